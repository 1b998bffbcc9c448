import Foundation
import Logging
import Synchronization
import Testing

@testable import TaskQueue

@Suite struct FinishBatcherTests {
    func outcome(_ id: UUID = UUID()) -> AttemptOutcome {
        AttemptOutcome(taskID: id, attempt: 1, status: .completed)
    }

    @Test func outcomesArrivingDuringAWriteShareTheNextOne() async throws {
        let batches = Mutex<[Int]>([])
        let gate = Signal()
        let batcher = FinishBatcher(
            write: { outcomes in
                batches.withLock { $0.append(outcomes.count) }
                // The first write is slow, so the next submissions queue up behind it.
                if batches.withLock({ $0.count }) == 1 { await gate.wait() }
                return Set(outcomes.map(\.taskID))
            }, logger: Logger(label: "test"), giveUp: Signal())
        let writer = Task { await batcher.run() }
        let first = Task { await batcher.submit(outcome()) }
        while batches.withLock({ $0.isEmpty }) { await Task.yield() }
        let rest = (0..<5).map { _ in Task { await batcher.submit(outcome()) } }
        try? await Task.sleep(for: .milliseconds(50))
        gate.fire()
        #expect(try await first.value.get())
        for task in rest { #expect(try await task.value.get()) }
        await batcher.close()
        await writer.value
        #expect(batches.withLock { $0 } == [1, 5])
    }

    @Test func aStaleAttemptIsReportedAsNotRecorded() async throws {
        let stale = UUID()
        let batcher = FinishBatcher(
            write: { outcomes in Set(outcomes.map(\.taskID)).subtracting([stale]) },
            logger: Logger(label: "test"), giveUp: Signal())
        let writer = Task { await batcher.run() }
        #expect(try await batcher.submit(outcome(stale)).get() == false)
        #expect(try await batcher.submit(outcome()).get() == true)
        await batcher.close()
        await writer.value
    }

    struct Down: Error {}

    @Test func aFailedWriteIsRetriedUntilItSucceedsOrTheWorkerGivesUp() async throws {
        let calls = Mutex(0)
        let batcher = FinishBatcher(
            write: { outcomes in
                let call = calls.withLock {
                    $0 += 1
                    return $0
                }
                if call < 3 { throw Down() }
                return Set(outcomes.map(\.taskID))
            }, logger: Logger(label: "test"), giveUp: Signal())
        let writer = Task { await batcher.run() }
        #expect(try await batcher.submit(outcome()).get())
        #expect(calls.withLock { $0 } == 3)
        await batcher.close()
        await writer.value

        let giveUp = Signal()
        let failing = FinishBatcher(write: { _ in throw Down() }, logger: Logger(label: "test"), giveUp: giveUp)
        let failingWriter = Task { await failing.run() }
        let pending = Task { await failing.submit(outcome()) }
        try? await Task.sleep(for: .milliseconds(150))
        giveUp.fire()
        if case .success = await pending.value { Issue.record("an outcome that was never written counted as recorded") }
        await failing.close()
        await failingWriter.value
    }
}
