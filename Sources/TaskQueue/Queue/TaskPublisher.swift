import Foundation
import Logging
import Synchronization

/// Puts task ids on the work stream and dead letters on the dead-letter stream, and records what
/// the stream took. The queue's enqueues, the worker and the reconciler share one per queue.
final class TaskPublisher: Sendable {
    let configuration: TaskQueueConfiguration
    let nats: NATSClient
    let store: TaskStore
    let logger: Logger
    private let provisioned = Mutex(false)

    init(configuration: TaskQueueConfiguration, nats: NATSClient, store: TaskStore, logger: Logger) {
        self.configuration = configuration
        self.nats = nats
        self.store = store
        self.logger = logger
    }

    /// Creates or checks the work stream, the dead-letter stream and one consumer per priority.
    /// Safe to call from many processes at once.
    func provision() async throws {
        let config = configuration
        try await nats.ensureStream(
            StreamSpec(
                name: config.streamName,
                subjects: TaskPriority.allCases.map(config.subject(for:)),
                workQueue: true,
                replicas: config.replicas,
                duplicateWindow: config.duplicateWindow,
                maxAge: .zero
            ))
        try await nats.ensureStream(
            StreamSpec(
                name: config.deadLetterStreamName,
                subjects: [config.deadLetterSubject],
                workQueue: false,
                replicas: config.replicas,
                duplicateWindow: config.duplicateWindow,
                maxAge: config.deadLetterRetention
            ))
        for priority in TaskPriority.allCases {
            try await nats.ensureConsumer(
                ConsumerSpec(
                    stream: config.streamName,
                    name: config.consumer(for: priority),
                    filterSubject: config.subject(for: priority),
                    ackWait: config.lease,
                    maxAckPending: config.maxAckPending
                ))
        }
        provisioned.withLock { $0 = true }
    }

    var isProvisioned: Bool { provisioned.withLock { $0 } }

    /// Publishes task ids and records what the stream took. Failures are logged, not thrown:
    /// the reconciler publishes those tasks later.
    @discardableResult
    func publish(_ targets: [PublishTarget]) async -> Set<UUID> {
        let marks = await send(targets)
        do {
            try await store.markPublished(marks)
        } catch {
            // The messages are in the stream; only the bookkeeping is missing. The reconciler may
            // publish these again, and the server drops the copies by Nats-Msg-Id.
            logger.warning("published tasks not marked", metadata: [LogKey.error: "\(error)", LogKey.count: "\(marks.count)"])
        }
        return Set(marks.map(\.taskID))
    }

    /// Publishes task ids on their priority subjects; returns a mark for each message the stream
    /// took. The tasks it could not publish are flagged for the reconciler's short grace.
    func send(_ targets: [PublishTarget]) async -> [PublishMark] {
        guard !targets.isEmpty else { return [] }
        let marks = await sendUnrecorded(targets)
        if marks.count < targets.count {
            let published = Set(marks.map(\.taskID))
            let failed = targets.map(\.taskID).filter { !published.contains($0) }
            do {
                try await store.markPublishFailed(failed)
            } catch {
                // Without the flag the reconciler still publishes them, after its confirmation wait.
                logger.warning("failed publishes not recorded", metadata: [LogKey.error: "\(error)", LogKey.count: "\(failed.count)"])
            }
        }
        return marks
    }

    private func sendUnrecorded(_ targets: [PublishTarget]) async -> [PublishMark] {
        guard nats.isConnected else {
            // Waiting out a request timeout per call would stall every enqueue during an outage;
            // the rows are committed and the reconciler publishes them once NATS is back.
            logger.warning("NATS is not connected; tasks left for the reconciler to publish", metadata: [LogKey.count: "\(targets.count)"])
            return []
        }
        if !isProvisioned {
            do { try await provision() } catch {
                logger.warning("cannot publish: JetStream not provisioned", metadata: [LogKey.error: "\(error)", LogKey.count: "\(targets.count)"])
                return []
            }
        }
        let messages = targets.map { target in
            OutgoingMessage(
                subject: configuration.subject(for: target.priority), data: Array(target.taskID.postgresText.utf8), messageID: target.messageID,
                headers: target.trace?.fields ?? [:])
        }
        let results: [Result<PublishAck, TaskQueueError>]
        if messages.count == 1 {
            do {
                results = [
                    .success(
                        try await nats.publish(
                            subject: messages[0].subject, data: messages[0].data, messageID: messages[0].messageID, headers: messages[0].headers))
                ]
            } catch let error as TaskQueueError {
                results = [.failure(error)]
            } catch {
                results = [.failure(TaskQueueError(.natsUnavailable, "\(error)"))]
            }
        } else {
            results = await nats.publishBatch(messages)
        }
        var marks: [PublishMark] = []
        var failures = 0
        var lastError: TaskQueueError?
        for (target, result) in zip(targets, results) {
            switch result {
            case .success(let ack):
                marks.append(PublishMark(taskID: target.taskID, sequence: ack.sequence, generation: target.generation))
            case .failure(let error):
                failures += 1
                lastError = error
            }
        }
        if failures > 0 {
            logger.warning(
                "tasks not published; the reconciler will publish them",
                metadata: [
                    LogKey.count: "\(failures)", LogKey.error: "\(lastError.map(String.init(describing:)) ?? "")",
                ])
        }
        return marks
    }

    /// Publishes a failed task's dead letter and records it.
    func publishDeadLetter(_ task: TaskRecord) async throws {
        let data = try DeadLetter(task: task).encoded()
        _ = try await nats.publish(subject: configuration.deadLetterSubject, data: Array(data), messageID: "dlq:\(task.id.postgresText):\(task.attempts)")
        try await store.markDeadLettered([task.id])
    }
}
