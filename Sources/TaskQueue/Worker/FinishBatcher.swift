import Foundation
import Logging

/// Group commit for attempt outcomes: while one batch is being written, new outcomes queue up and
/// go together in the next statement. At low load each outcome is written at once; under load
/// hundreds share one round trip and one durable commit.
actor FinishBatcher {
    private struct Item {
        let outcome: AttemptOutcome
        let continuation: CheckedContinuation<Result<TaskRecord?, TaskQueueError>, Never>
    }

    private let store: TaskStore
    private let logger: Logger
    private let giveUpAfter: Duration
    private var pending: [Item] = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var closed = false

    init(store: TaskStore, logger: Logger, giveUpAfter: Duration) {
        self.store = store
        self.logger = logger
        self.giveUpAfter = giveUpAfter
    }

    /// Records an outcome; returns the updated task, nil when the attempt was stale (another
    /// worker owns the task now), or an error when PostgreSQL stayed unreachable.
    func submit(_ outcome: AttemptOutcome) async -> Result<TaskRecord?, TaskQueueError> {
        await withCheckedContinuation { continuation in
            pending.append(Item(outcome: outcome, continuation: continuation))
            wakeUp?.resume()
            wakeUp = nil
        }
    }

    /// No more submissions will come; `run` returns once the queue is empty.
    func close() {
        closed = true
        wakeUp?.resume()
        wakeUp = nil
    }

    private func nextBatch() async -> [Item]? {
        while pending.isEmpty {
            if closed { return nil }
            await withCheckedContinuation { wakeUp = $0 }
        }
        let batch = Array(pending.prefix(500))
        pending.removeFirst(batch.count)
        return batch
    }

    /// The writer loop; runs inside the worker's task group.
    nonisolated func run() async {
        while let batch = await nextBatch() {
            let result = await write(batch.map(\.outcome))
            for item in batch {
                item.continuation.resume(returning: result.map { $0[item.outcome.taskID] })
            }
        }
    }

    private nonisolated func write(_ outcomes: [AttemptOutcome]) async -> Result<[UUID: TaskRecord], TaskQueueError> {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: giveUpAfter)
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return .success(try await store.finish(outcomes))
            } catch {
                let failure = error as? TaskQueueError ?? TaskQueueError(.databaseError, "\(error)")
                if clock.now >= deadline {
                    return .failure(failure)
                }
                logger.warning("recording attempt outcomes failed; retrying", metadata: [
                    LogKey.error: "\(failure)", LogKey.count: "\(outcomes.count)",
                ])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}
