import Foundation
import Testing

@testable import TaskQueue

@Suite("Task life on real NATS and PostgreSQL")
struct TaskLifecycleTests {
    @Test func happyPathRecordsOneSucceededExecution() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let result = try await env.queue.enqueue("noop", payload: Empty())
            #expect(result.created)
            #expect(result.task.status == .queued)
            #expect(result.task.isPublished)

            let done = try await env.waitFor(result.task.id, .completed)
            #expect(done.attempts == 1)
            #expect(done.finishedAt != nil)
            let executions = try await env.queue.executions(of: result.task.id)
            #expect(executions.count == 1)
            #expect(executions.first?.status == .succeeded)
            #expect(executions.first?.attempt == 1)
            #expect(executions.first?.finishedAt != nil)
            #expect(executions.first?.durationMilliseconds != nil)
            #expect(log.successCount(result.task.id) == 1)
            try await env.waitForEmptyStream()
            try await worker.stop()
        }
    }

    @Test func theClaimRecordsTheMessageThatCarriedTheTask() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(reconcile: false))
            let result = try await env.queue.enqueue("noop", payload: Empty())
            // Enqueue does not write the publish back; with no reconciler running, only the claim can.
            try await env.waitFor(result.task.id, .completed)
            let rows = try await env.queue.execute(
                "SELECT published_seq::text AS seq, published_at IS NOT NULL AS recorded FROM tasks WHERE id = $1",
                [result.task.id.postgresText])
            #expect(rows.first?["seq"] == "1")
            #expect(rows.first?["recorded"] == "t")
            try await worker.stop()
        }
    }

    @Test func retryThenSuccessRespectsBackoff() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let config = env.workerConfiguration(retry: .exponentialJitter(base: .milliseconds(400), cap: .seconds(5), jitter: 0))
            let worker = env.startWorker(try testRegistry(log), configuration: config)
            let id = try await env.queue.enqueue("flaky", payload: Flaky(failures: 2)).task.id

            let done = try await env.waitFor(id, .completed)
            #expect(done.attempts == 3)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.map(\.status) == [.failed, .failed, .succeeded])
            #expect(executions.map(\.attempt) == [1, 2, 3])
            #expect(executions[0].error?.contains("flaky failure on attempt 1") == true)
            // 400 ms after the first failure, 800 ms after the second (no jitter).
            let firstGap = executions[1].startedAt.timeIntervalSince(executions[0].finishedAt!)
            let secondGap = executions[2].startedAt.timeIntervalSince(executions[1].finishedAt!)
            #expect(firstGap >= 0.38, "second attempt started \(firstGap)s after the first failed")
            #expect(secondGap >= 0.78, "third attempt started \(secondGap)s after the second failed")
            #expect(log.successCount(id) == 1)
            try await worker.stop()
        }
    }

    @Test func exhaustedAttemptsFailAndDeadLetter() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let id = try await env.queue.enqueue("flaky", payload: Flaky(failures: 10), priority: .high, maxAttempts: 2).task.id

            let failed = try await env.waitFor(id, .failed)
            #expect(failed.attempts == 2)
            #expect(failed.lastError?.contains("attempts exhausted (2 of 2)") == true)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.map(\.status) == [.failed, .failed])

            let letter = try await eventuallyDeadLetter(env, id)
            #expect(letter.type == "flaky")
            #expect(letter.priority == .high)
            #expect(letter.attempts == 2)
            #expect(letter.lastError?.contains("flaky failure on attempt 2") == true)
            #expect(try jsonEqual(letter.payload, #"{"failures":10}"#))
            try await worker.stop()
        }
    }

    @Test func terminalErrorFailsAtOnce() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let id = try await env.queue.enqueue("terminal", payload: Empty(), maxAttempts: 5).task.id

            let failed = try await env.waitFor(id, .failed)
            #expect(failed.attempts == 1)
            #expect(failed.lastError == "this task can never succeed")
            #expect(try await env.queue.executions(of: id).map(\.status) == [.failed])
            _ = try await eventuallyDeadLetter(env, id)
            try await worker.stop()
        }
    }

    @Test func unknownTypeFailsWithClearError() async throws {
        try await TestEnvironment.with { env in
            let worker = env.startWorker(try testRegistry(RunLog()))
            let id = try await env.queue.enqueue("no.such:type", payload: Empty()).task.id
            let failed = try await env.waitFor(id, .failed)
            #expect(failed.lastError == "no handler registered for type no.such:type")
            #expect(try await env.queue.executions(of: id).count == 1)
            _ = try await eventuallyDeadLetter(env, id)
            try await worker.stop()
        }
    }

    @Test func undecodablePayloadFailsWithoutRetrying() async throws {
        try await TestEnvironment.with { env in
            let worker = env.startWorker(try testRegistry(RunLog()))
            let id = try await env.queue.enqueue(NewTask(type: "flaky", payloadJSON: #"{"failures":"many"}"#)).task.id
            let failed = try await env.waitFor(id, .failed)
            #expect(failed.attempts == 1)
            #expect(failed.lastError?.contains("payload does not decode") == true)
            try await worker.stop()
        }
    }

    @Test func poisonMessagesAreTerminatedAndTheWorkerGoesOn() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            try await env.publishRaw("not a task id")
            try await env.publishRaw(#"{"id": 42}"#, priority: .high)
            try await env.publishRaw("", priority: .low)
            try await env.publishRaw(UUID().uuidString)  // a well-formed id no task has
            let id = try await env.queue.enqueue("noop", payload: Empty()).task.id
            try await env.waitFor(id, .completed)
            try await env.waitForEmptyStream()
            let state = try await env.queue.streamState()
            #expect(state.consumers.allSatisfy { $0.redelivered == 0 })
            try await worker.stop()
        }
    }

    private func eventuallyDeadLetter(_ env: TestEnvironment, _ id: UUID) async throws -> DeadLetter {
        for _ in 0..<100 {
            if let letter = try await env.queue.deadLetters(limit: 50).first(where: { $0.taskID == id }) { return letter }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("no dead letter for \(id)")
        throw TestTimeout()
    }
}
