import Foundation
import Testing

@testable import TaskQueue

@Suite("Cancelling running tasks: the handler stops, the task ends cancelled, nothing revives it")
struct CancelRunningTests {
    func executions(_ env: TestEnvironment, _ id: UUID) async throws -> [TaskExecution] { try await env.queue.executions(of: id) }

    func waitUntilStarted(_ log: RunLog, _ id: UUID) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while log.startCount(id) == 0 {
            guard ContinuousClock.now < deadline else { throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func aCancelStopsTheHandlerWithinASecondAndIsNotRetried() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 2))
            let id = try await env.queue.enqueue(try NewTask(type: "slow", payload: SlowPayload(ms: 60_000), maxAttempts: 5)).task.id
            try await waitUntilStarted(log, id)

            let asked = ContinuousClock.now
            let answered = try await env.queue.cancel(id)
            #expect(answered.status == .running)
            #expect(answered.cancelRequestedAt != nil)
            let cancelled = try await env.waitFor(id, .cancelled, timeout: .seconds(5))
            #expect(ContinuousClock.now - asked < .milliseconds(1500))
            #expect(cancelled.attempts == 1)
            #expect(cancelled.lastError?.contains("cancelled on request") == true)
            #expect(log.successCount(id) == 0)
            let attempts = try await executions(env, id)
            #expect(attempts.map(\.status) == [.cancelled])
            // Cancelled is final: a second cancel is a conflict, and no retry comes.
            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(id) }
            try await Task.sleep(for: .milliseconds(500))
            #expect(log.startCount(id) == 1)
            #expect(try await env.queue.counts().byStatus[.cancelled] == 1)
            try await worker.stop()
        }
    }

    @Test func whateverTheHandlerReturnsAfterTheRequestTheTaskEndsCancelled() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 2))
            // "stubborn" ignores cancellation and returns success 1.5 s after it started.
            let id = try await env.queue.enqueue("stubborn", payload: SlowPayload(ms: 1500)).task.id
            try await waitUntilStarted(log, id)
            try await env.queue.cancel(id)
            let task = try await env.waitFor(id, .cancelled, timeout: .seconds(10))
            #expect(log.successCount(id) == 1)
            #expect(task.lastError?.contains("discarded") == true)
            #expect(try await executions(env, id).map(\.status) == [.cancelled])
            try await worker.stop()
        }
    }

    @Test func aRequestThatArrivesAsTheAttemptEndsStillEndsItCancelled() async throws {
        try await TestEnvironment.with { env in
            // The worker has not acted yet (as if the request came between its checks): the
            // statement that records the outcome turns a retry into cancelled.
            let id = try await env.queue.enqueue(try NewTask(type: "flaky", payload: Flaky(failures: 1), maxAttempts: 3)).task.id
            let claimed = try await env.queue.store.claim([id], workerID: "w-test", lease: .seconds(30))
            guard case .claimed(let task)? = claimed[id] else {
                Issue.record("not claimed: \(String(describing: claimed[id]))")
                return
            }
            _ = try await env.queue.cancel(id)
            var outcome = AttemptOutcome(taskID: id, attempt: task.attempts, status: .retrying, error: "boom")
            outcome.retryDelay = .milliseconds(10)
            #expect(try await env.queue.store.finish([outcome]) == [id])
            let ended = try #require(try await env.queue.task(id))
            #expect(ended.status == .cancelled)
            #expect(ended.finishedAt != nil)
            #expect(try await executions(env, id).map(\.status) == [.cancelled])
        }
    }

    @Test func aTaskWhoseWorkerDiedIsCancelledByTheNextClaimInsteadOfRun() async throws {
        try await TestEnvironment.with { env in
            let id = try await env.queue.enqueue(NewTask(type: "noop")).task.id
            // As a worker that claimed it and died would leave it, with the request made since.
            _ = try await env.queue.pool.withSession { session in
                try session.execute(
                    """
                    UPDATE tasks SET status = 'running', attempts = 1, lease_owner = 'dead-worker',
                        lease_expires_at = now() - interval '1 second', attempt_started_at = now() - interval '5 seconds',
                        started_at = now() - interval '5 seconds', cancel_requested_at = now()
                    WHERE id = $1
                    """, [id])
            }
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let task = try await env.waitFor(id, .cancelled)
            #expect(log.startCount(id) == 0)
            #expect(task.attempts == 1)
            let attempts = try await executions(env, id)
            #expect(attempts.map(\.status) == [.cancelled])
            #expect(attempts.first?.workerID == "dead-worker")
            try await worker.stop()
        }
    }

    @Test func aBulkCancelCancelsWaitingTasksAndStopsRunningOnes() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 2))
            let slow = try await env.queue.enqueueBatch((0..<5).map { _ in try NewTask(type: "slow", payload: SlowPayload(ms: 60_000)) }).map(\.task.id)
            let other = try await env.queue.enqueue(NewTask(type: "noop", priority: .low, runAt: Date().addingTimeInterval(3600))).task.id
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while slow.filter({ log.startCount($0) > 0 }).count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }

            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(matching: TaskSelection()) }
            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(matching: TaskSelection(status: .completed)) }
            let summary = try await env.queue.cancel(matching: TaskSelection(type: "slow"))
            #expect(summary.cancelled == 3)
            #expect(summary.cancelRequested == 2)
            for id in slow { try await env.waitFor(id, .cancelled, timeout: .seconds(5)) }
            #expect(try await env.queue.task(other)?.status == .scheduled)
            #expect(slow.allSatisfy { log.successCount($0) == 0 })
            // Nothing left to cancel: a repeat touches nothing.
            #expect(try await env.queue.cancel(matching: TaskSelection(type: "slow")) == CancelSummary(cancelled: 0, cancelRequested: 0))
            try await worker.stop()
        }
    }

    @Test func aBulkCancelWalksPastOneBatch() async throws {
        try await TestEnvironment.with { env in
            let count = TaskStore.bulkBatch * 2 + 7
            let ids = try await env.queue.enqueueBatch((0..<count).map { _ in NewTask(type: "noop", runAt: Date().addingTimeInterval(3600)) }).map(\.task.id)
            let summary = try await env.queue.cancel(matching: TaskSelection(status: .scheduled, type: "noop"))
            #expect(summary == CancelSummary(cancelled: count, cancelRequested: 0))
            #expect(try await env.queue.task(ids[0])?.status == .cancelled)
            #expect(try await env.queue.task(ids[count - 1])?.status == .cancelled)
        }
    }

    @Test func aBulkRetryPutsBackTheFailedTasksItMatchesAndTheyRun() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let terminal = try await env.queue.enqueueBatch((0..<4).map { _ in NewTask(type: "terminal") }).map(\.task.id)
            let other = try await env.queue.enqueue(NewTask(type: "terminal", priority: .low)).task.id
            for id in terminal + [other] { try await env.waitFor(id, .failed) }

            await #expect(throws: TaskQueueError.self) { try await env.queue.retry(matching: TaskSelection()) }
            await #expect(throws: TaskQueueError.self) { try await env.queue.retry(matching: TaskSelection(status: .queued)) }
            #expect(try await env.queue.retry(matching: TaskSelection(type: "terminal", priority: .normal)) == terminal.count)
            // Each runs again with a fresh budget (and fails again, being terminal); the low one stays failed.
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while terminal.contains(where: { log.startCount($0) < 2 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            for id in terminal {
                #expect(log.startCount(id) == 2)
                let task = try await env.waitFor(id, .failed)
                #expect(task.attempts == 2 && task.attemptBase == 1)
            }
            #expect(log.startCount(other) == 1)
            #expect(try await env.queue.retry(matching: TaskSelection(status: .failed, type: "nothing.like.it")) == 0)
            try await worker.stop()
        }
    }

    @Test func aBulkRetryWalksPastOneBatch() async throws {
        try await TestEnvironment.with { env in
            let count = TaskStore.bulkBatch * 2 + 3
            let later = Date().addingTimeInterval(3600)
            let ids = try await env.queue.enqueueBatch((0..<count).map { _ in NewTask(type: "noop", runAt: later) }).map(\.task.id)
            _ = try await env.queue.pool.withSession { session in
                try session.execute("UPDATE tasks SET status = 'failed', attempts = 1, finished_at = now() WHERE id = ANY($1::uuid[])", [PostgresArray(ids)])
            }
            #expect(try await env.queue.retry(matching: TaskSelection(type: "noop")) == count)
            #expect(try await env.queue.task(ids[0])?.status == .queued)
            #expect(try await env.queue.task(ids[count - 1])?.status == .queued)
        }
    }
}
