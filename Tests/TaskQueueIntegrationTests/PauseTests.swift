import Foundation
import Testing

@testable import TaskQueue

@Suite("Pause and resume: priorities and types, no attempt spent, order kept")
struct PauseTests {
    /// When each task's first attempt started, oldest start first.
    func startOrder(_ env: TestEnvironment, _ ids: [UUID]) async throws -> [UUID] {
        try await env.queue.pool.withSession { session in
            try session.execute(
                "SELECT task_id FROM task_executions WHERE task_id = ANY($1::uuid[]) AND attempt = 1 ORDER BY started_at, task_id",
                [PostgresArray(ids)])
        }.rows.map { try $0.uuid("task_id") }
    }

    func heldCount(_ env: TestEnvironment) async throws -> Int { try await env.queue.heldTaskCount() }

    @Test func aPausedTypeIsHeldWithoutAnAttemptAndResumedInOrder() async throws {
        try await TestEnvironment.with { env in
            #expect(try await env.queue.pause(type: "noop"))
            #expect(try await !env.queue.pause(type: "noop"))
            #expect(try await env.queue.pauses().types == ["noop"])
            let held = try await env.queue.enqueueBatch((0..<6).map { _ in NewTask(type: "noop") }).map(\.task.id)
            let other = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 10)).task.id

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 1))
            // Other types run; the paused type's tasks are held once a worker comes to them.
            try await env.waitFor(other, .completed)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(10))
            while try await heldCount(env) < held.count, clock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await heldCount(env) == held.count)
            for id in held {
                let task = try #require(try await env.queue.task(id))
                #expect(task.status == .queued && task.attempts == 0)
                #expect(log.startCount(id) == 0)
            }
            #expect(try await env.queue.executions(of: held[0]).isEmpty)

            // Resumed: held tasks are published again, oldest first, and run once each, in order.
            #expect(try await env.queue.resume(type: "noop") == held.count)
            #expect(try await env.queue.pauses().isEmpty)
            for id in held { try await env.waitFor(id, .completed) }
            for id in held { #expect(log.successCount(id) == 1) }
            #expect(try await startOrder(env, held) == held)
            #expect(try await heldCount(env) == 0)
            try await worker.stop()
        }
    }

    @Test func aPausedPriorityIsNotFetchedAndResumesWithinSeconds() async throws {
        try await TestEnvironment.with { env in
            #expect(try await env.queue.pause(.low))
            let low = try await env.queue.enqueueBatch((0..<5).map { _ in NewTask(type: "noop", priority: .low) }).map(\.task.id)
            let normal = try await env.queue.enqueue(NewTask(type: "noop")).task.id
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 1))
            try await env.waitFor(normal, .completed)
            try await Task.sleep(for: .seconds(1))
            for id in low {
                let task = try #require(try await env.queue.task(id))
                #expect(task.status == .queued && task.attempts == 0)
            }
            // Nothing is held for a priority: the messages stay in the stream.
            #expect(try await heldCount(env) == 0)

            let resumed = ContinuousClock.now
            #expect(try await env.queue.resume(.low))
            for id in low { try await env.waitFor(id, .completed, timeout: .seconds(5)) }
            #expect(ContinuousClock.now - resumed < .seconds(4))
            #expect(try await startOrder(env, low) == low)
            for id in low { #expect(log.successCount(id) == 1) }
            try await worker.stop()
        }
    }

    @Test func aRunningTaskFinishesWhenItsTypeIsPausedAndHeldTasksCanBeCancelled() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 2))
            let running = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 1500)).task.id
            while log.startCount(running) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            try await env.queue.pause(type: "slow")
            try await Task.sleep(for: .milliseconds(1200))  // the worker reads pauses every second
            let waiting = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 10)).task.id
            try await env.waitFor(running, .completed)
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while try await heldCount(env) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await env.queue.task(waiting)?.status == .queued)
            #expect(try await heldCount(env) == 1)
            // A held task can be cancelled; resuming then has nothing to publish for it.
            #expect(try await env.queue.cancel(waiting).status == .cancelled)
            #expect(try await env.queue.resume(type: "slow") == 0)
            #expect(log.startCount(waiting) == 0)
            try await worker.stop()
        }
    }

    @Test func theReconcilerReleasesATaskHeldForATypeNoLongerPaused() async throws {
        try await TestEnvironment.with { env in
            // As a claim that read the pause just before the resume committed would leave it.
            let id = try await env.queue.enqueue(NewTask(type: "noop")).task.id
            _ = try await env.queue.pool.withSession { session in
                try session.execute("UPDATE tasks SET held_at = now(), published_at = NULL WHERE id = $1", [id])
            }
            try await env.queue.pause(type: "other")
            let report = try await env.reconciler(env.workerConfiguration(confirmAfter: .seconds(3600))).pass()
            #expect(report.released == 1)
            // Released: published again, and held until a claim takes it.
            #expect(try await env.queue.task(id)?.isPublished == true)
            #expect(try await env.reconciler(env.workerConfiguration(confirmAfter: .seconds(3600))).pass().released == 0)
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            try await env.waitFor(id, .completed)
            #expect(log.successCount(id) == 1)
            #expect(try await heldCount(env) == 0)
            try await worker.stop()
        }
    }

    @Test func aBadTypeNameIsRejected() async throws {
        try await TestEnvironment.with { env in
            for bad in ["", "has space", String(repeating: "x", count: 129)] {
                await #expect(throws: TaskQueueError.self) { try await env.queue.pause(type: bad) }
            }
        }
    }
}
