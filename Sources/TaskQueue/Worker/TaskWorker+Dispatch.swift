import Foundation
import Logging

/// Claiming the tasks behind fetched messages and settling the messages that need no handler.
extension TaskWorker {
    // MARK: Dispatching

    func dispatchLoop() async {
        await withDiscardingTaskGroup { handlers in
            while true {
                let batch = await buffer.take()
                if batch.isEmpty { break }
                for (delivery, task) in await admit(batch) {
                    handlers.addTask { await self.process(task, message: delivery.message) }
                }
            }
        }
    }

    /// Claims the tasks behind a batch of messages in one statement and settles every message that
    /// needs no handler; returns the claimed ones to run.
    func admit(_ batch: [DeliveryBuffer<JetStreamMessage>.Delivery]) async -> [(DeliveryBuffer<JetStreamMessage>.Delivery, TaskRecord)] {
        var byID: [UUID: [DeliveryBuffer<JetStreamMessage>.Delivery]] = [:]
        var settled = 0
        let paused = pauses.withLock { $0 }
        let limited = limitedTypes.withLock { !$0.isEmpty }
        for delivery in batch {
            // Fetched before its priority was paused: back to the stream, no attempt spent; the
            // consumer hands redeliveries out first when its priority is resumed.
            if !paused.priorities.isEmpty, paused.priorities.contains(delivery.priority) {
                try? delivery.message.nak()
                settled += 1
                continue
            }
            // The id as published parses directly; Foundation's trimming (a twentieth of the
            // worker's CPU when every message went through it) only for a message that needs it.
            guard let text = delivery.message.text,
                let id = UUID(canonicalText: text) ?? UUID(canonicalText: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                // Not a task id: it can never become one, so it must not come back.
                logger.warning(
                    "terminating a message that is not a task id",
                    metadata: [
                        LogKey.subject: "\(delivery.message.subject)", LogKey.streamSequence: "\(delivery.message.streamSequence)",
                        "bytes": "\(delivery.message.data.count)",
                    ])
                try? delivery.message.term()
                WorkerMetrics.poisonMessages.increment()
                settled += 1
                continue
            }
            byID[id, default: []].append(delivery)
        }
        var claimed: [(DeliveryBuffer<JetStreamMessage>.Delivery, TaskRecord)] = []
        if !byID.isEmpty {
            do {
                let ids = Array(byID.keys)
                let outcomes = try await store.claim(
                    ids, sequences: ids.map { byID[$0]?.first?.message.streamSequence ?? 0 },
                    workerID: configuration.workerID, lease: lease, holdingPausedTypes: !paused.types.isEmpty,
                    limited: limited)
                var abandoned: [(UUID, JetStreamMessage)] = []
                for (id, deliveries) in byID {
                    for (index, delivery) in deliveries.enumerated() {
                        // Copies of one id in one batch: the first runs it, the rest are duplicates.
                        let outcome = index == 0 ? outcomes[id] ?? .unknown : .heldElsewhere
                        if case .claimed(let task) = outcome {
                            claimed.append((delivery, task))
                        } else if outcome == .cancelAbandoned {
                            abandoned.append((id, delivery.message))
                            settled += 1
                        } else {
                            settle(delivery.message, id: id, outcome: outcome)
                            settled += 1
                        }
                    }
                }
                if !abandoned.isEmpty { await cancelAbandoned(abandoned) }
            } catch {
                logger.warning("claim failed; messages return later", metadata: [LogKey.error: "\(error)", LogKey.count: "\(byID.count)"])
                for delivery in byID.values.joined() { try? delivery.message.nak(delay: .seconds(1)) }
                settled += byID.values.reduce(0) { $0 + $1.count }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        if settled > 0 { await buffer.release(settled) }
        return claimed
    }

    /// Cancels tasks whose worker died before acting on a cancel request, then acks their messages;
    /// on a database error the messages come back later and the next claim tries again.
    func cancelAbandoned(_ abandoned: [(UUID, JetStreamMessage)]) async {
        do {
            let cancelled = try await store.cancelAbandoned(abandoned.map(\.0))
            for (id, message) in abandoned {
                logger.info("cancelled a task whose worker stopped before acting on its cancel request", metadata: [LogKey.taskID: .string(id.lowercasedText)])
                if cancelled.contains(id) { WorkerMetrics.cancelledRunning.increment() }
                try? message.ack()
            }
        } catch {
            logger.warning("cannot cancel abandoned tasks; their messages return later", metadata: [LogKey.error: "\(error)"])
            for (_, message) in abandoned { try? message.nak(delay: .seconds(1)) }
        }
    }

    func settle(_ message: JetStreamMessage, id: UUID, outcome: ClaimOutcome) {
        var metadata: Logger.Metadata = [LogKey.taskID: .string(id.lowercasedText), LogKey.deliveries: "\(message.deliveryCount)"]
        switch outcome {
        case .notDue(let remaining):
            // An early copy (a duplicate, or a redelivery before the backoff ends) waits out the rest.
            try? message.nak(delay: remaining + .milliseconds(5))
        case .leased(let remaining):
            // JetStream's AckWait runs from the fetch, the lease from the claim a moment later, so a
            // dead worker's message comes back just before its lease ends: look again after the
            // lease, or sooner, so a duplicate of a task that finishes meanwhile is acked promptly.
            logger.debug("message for a leased task comes back later", metadata: metadata)
            try? message.nak(delay: min(remaining + .milliseconds(250), .seconds(2)))
        case .finished(let status):
            metadata["task.status"] = "\(status.rawValue)"
            logger.debug("message for a finished task acknowledged", metadata: metadata)
            try? message.ack()
        case .heldElsewhere:
            logger.debug("duplicate message for a running task acknowledged", metadata: metadata)
            try? message.ack()
        case .held:
            logger.debug("task of a paused type, or over its type's limit, held until it may run", metadata: metadata)
            try? message.ack()
        case .unknown:
            logger.warning("terminating a message for an unknown task id", metadata: metadata)
            try? message.term()
            WorkerMetrics.poisonMessages.increment()
        case .limited:
            logger.debug("task of a limited type not claimed; its message comes back", metadata: metadata)
            try? message.nak(delay: .seconds(1))
        case .claimed, .cancelAbandoned:
            break
        }
    }
}
