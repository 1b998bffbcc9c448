import Foundation
import Logging

/// Group commit for attempt outcomes: while one batch is being written, new outcomes queue up and
/// go together in the next statement. At low load each outcome is written at once; under load
/// hundreds share one round trip and one durable commit.
actor FinishBatcher {
    private struct Item {
        let outcome: AttemptOutcome
        let continuation: CheckedContinuation<Result<Bool, TaskQueueError>, Never>
    }

    /// Records a batch of outcomes in one statement; returns the tasks whose outcome stood.
    typealias Write = @Sendable ([AttemptOutcome]) async throws -> Set<UUID>

    private let writeBatch: Write
    private let logger: Logger
    /// Writes are retried until they succeed: an outcome held only in memory must not be lost to
    /// a database outage. Only a worker stopping past its shutdown timeout gives up on them.
    private let giveUp: Signal
    private var pending: [Item] = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var closed = false

    init(write: @escaping Write, logger: Logger, giveUp: Signal) {
        self.writeBatch = write
        self.logger = logger
        self.giveUp = giveUp
    }

    /// Records an outcome; returns true once it is recorded, false when the attempt was stale
    /// (another worker owns the task now), or an error when the worker stopped before PostgreSQL
    /// came back.
    func submit(_ outcome: AttemptOutcome) async -> Result<Bool, TaskQueueError> {
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
                item.continuation.resume(returning: result.map { $0.contains(item.outcome.taskID) })
            }
        }
    }

    private nonisolated func write(_ outcomes: [AttemptOutcome]) async -> Result<Set<UUID>, TaskQueueError> {
        var delay = Duration.milliseconds(100)
        var failures = 0
        while true {
            do {
                return .success(try await writeBatch(outcomes))
            } catch {
                let failure = error as? TaskQueueError ?? TaskQueueError(.databaseError, "\(error)")
                if giveUp.isFired { return .failure(failure) }
                failures += 1
                if failures == 1 || failures % 10 == 0 {
                    logger.warning(
                        "recording attempt outcomes failed; retrying",
                        metadata: [
                            LogKey.error: "\(failure)", LogKey.count: "\(outcomes.count)",
                        ])
                }
                _ = await sleep(for: delay, unless: giveUp)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}
