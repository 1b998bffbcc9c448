import Foundation
import Logging

/// Closes the gaps between PostgreSQL and JetStream. Each pass:
/// - publishes queued tasks the stream was never seen to take (broker down, process killed between
///   INSERT and publish, or simply a backlog not yet claimed: enqueue does not write the publish
///   back). A copy the stream already holds is dropped by Nats-Msg-Id and the server's
///   acknowledgement names the original message, which is then recorded;
/// - promotes due scheduled tasks to queued and publishes them;
/// - checks tasks that show no progress: if the stream still holds their message they are a
///   backlog and are left alone; if the message is gone (a broker crash lost it) a new message
///   generation is published;
/// - folds the finished-task counts appended by finishing statements into their totals;
/// - publishes dead letters that were never published.
///
/// Safe in every worker at once: promotions lock rows, generations change conditionally, and
/// repeated publishes of one generation are dropped by the server's Nats-Msg-Id window. The two
/// scans that read every in-flight or unconfirmed task take turns across the fleet
/// (`TaskStore.takeTurn`).
final class Reconciler: Sendable {
    let store: TaskStore
    let publisher: TaskPublisher
    let nats: NATSClient
    let streamName: String
    let configuration: WorkerConfiguration
    let logger: Logger
    let batchLimit = 500
    private let clock = ContinuousClock()

    init(store: TaskStore, publisher: TaskPublisher, nats: NATSClient, streamName: String, configuration: WorkerConfiguration, logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.nats = nats
        self.streamName = streamName
        self.configuration = configuration
        self.logger = logger
    }

    func run(until stop: Signal) async {
        while !(await sleep(for: configuration.reconcileInterval, unless: stop)) {
            do {
                try await pass()
            } catch {
                logger.warning("reconciler pass failed", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// One pass; returns what it did, for tests and logs.
    @discardableResult
    func pass() async throws -> ReconcileReport {
        var report = ReconcileReport()

        // Tasks whose publish failed are looked for on every pass; unconfirmed ones by one worker
        // of the fleet a few times per confirmAfter: that scan's cost grows with dead index
        // entries (see `unpublished`).
        let confirm = try await store.takeTurn(.unconfirmed, every: configuration.confirmAfter / 4)
        let started = clock.now
        let unpublished = try await store.unpublished(
            olderThan: configuration.publishGrace, confirmAfter: confirm ? configuration.confirmAfter : nil, limit: batchLimit)
        if confirm { try await store.recordTurn(.unconfirmed, took: clock.now - started) }
        report.published = await publisher.publish(unpublished).count

        let due = try await store.promoteDueScheduled(limit: batchLimit)
        report.scheduled = await publisher.publish(due).count

        // Checking for lost messages reads every in-flight task, so one worker of the fleet runs
        // it a few times per lostAfter rather than every worker on every pass.
        if nats.isConnected, try await store.takeTurn(.lost, every: configuration.lostAfter / 4) {
            let started = clock.now
            let suspects = try await store.suspectedLost(quiet: configuration.lostAfter, limit: batchLimit)
            try await store.recordTurn(.lost, took: clock.now - started)
            var lost: [PublishTarget] = []
            var present: [UUID] = []
            for suspect in suspects {
                if let sequence = suspect.sequence,
                    let message = try await nats.message(stream: streamName, sequence: sequence),
                    String(decoding: message.data, as: UTF8.self) == suspect.target.taskID.postgresText
                {
                    present.append(suspect.target.taskID)
                } else {
                    lost.append(suspect.target)
                }
            }
            try await store.markVerified(present)
            let renewed = try await store.bumpGeneration(lost)
            report.republished = await publisher.publish(renewed).count
            if !renewed.isEmpty {
                logger.warning("republished tasks whose message was lost", metadata: [LogKey.count: "\(renewed.count)"])
            }
        }

        // Tasks held for a type that is no longer paused (a claim that read the pause just before
        // the resume committed): released and published as the resume would have.
        for type in try await store.releasableHeldTypes() {
            let released = try await store.releaseHeld(type: type, limit: batchLimit)
            await publisher.publish(released)
            report.released += released.count
        }

        // Finished-task counts appended since the last pass go into their totals.
        try await store.foldCounts()

        for task in try await store.pendingDeadLetters(olderThan: configuration.publishGrace, limit: batchLimit) {
            try await publisher.publishDeadLetter(task)
            report.deadLetters += 1
        }
        if report != ReconcileReport() {
            logger.debug(
                "reconciled",
                metadata: [
                    "published": "\(report.published)", "scheduled": "\(report.scheduled)",
                    "republished": "\(report.republished)", "dead_letters": "\(report.deadLetters)", "released": "\(report.released)",
                ])
        }
        return report
    }
}

/// What one reconciler pass did.
struct ReconcileReport: Sendable, Equatable {
    var published = 0
    var scheduled = 0
    var republished = 0
    var deadLetters = 0
    var released = 0
}
