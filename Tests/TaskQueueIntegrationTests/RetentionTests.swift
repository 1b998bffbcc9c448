import Foundation
import Testing

@testable import TaskQueue

@Suite("Retention: pruning finished tasks")
struct RetentionTests {
    /// Inserts a task as if created at `created`, in `status`, finished at `finished`, with one
    /// execution row when it ran.
    func insert(_ env: TestEnvironment, _ status: TaskStatus, created: Date, finished: Date?) async throws -> UUID {
        let id = UUID.timeOrdered(at: created)
        try await env.queue.execute(
            """
            INSERT INTO tasks (id, type, status, attempts, max_attempts, created_at, updated_at, run_at, finished_at)
            VALUES ($1::uuid, 'noop', $2, $3::int, 3, $4::timestamptz, $4::timestamptz, $4::timestamptz, $5::timestamptz)
            """, [id.lowercasedText, status.rawValue, status == .queued ? "0" : "1", Timestamp.postgresText(created), finished.map(Timestamp.postgresText)])
        if status != .queued {
            try await env.queue.execute(
                """
                INSERT INTO task_executions (task_id, attempt, status, worker_id, started_at, finished_at)
                VALUES ($1::uuid, 1, $2, 'w', $3::timestamptz, $4::timestamptz)
                """, [id.lowercasedText, status == .completed ? "succeeded" : "failed", Timestamp.postgresText(created), finished.map(Timestamp.postgresText)])
        }
        if status.isTerminal {
            // Made by hand, so counted by hand, as TaskFlow's own finishing statements would.
            try await env.queue.execute(
                """
                INSERT INTO task_counts (status, priority, n) VALUES ($1, 'normal', 1)
                ON CONFLICT (status, priority) DO UPDATE SET n = task_counts.n + 1
                """, [status.rawValue])
        }
        return id
    }

    func executionCount(_ env: TestEnvironment, _ id: UUID) async throws -> Int {
        let rows = try await env.queue.execute("SELECT count(*) AS n FROM task_executions WHERE task_id = $1::uuid", [id.lowercasedText])
        return Int((rows.first?["n"] ?? nil) ?? "") ?? -1
    }

    let policy = RetentionPolicy(completed: .seconds(3600), failed: .seconds(2 * 3600), cancelled: .seconds(3600))

    @Test func onlyFinishedTasksPastTheirStatesPeriodGoAndTheirExecutionsWithThem() async throws {
        try await TestEnvironment.with { env in
            let now = Date()
            func ago(_ hours: Double) -> Date { now.addingTimeInterval(-hours * 3600) }
            var pruned: [UUID] = []
            var kept: [UUID] = []
            for _ in 0..<5 { pruned.append(try await insert(env, .completed, created: ago(3), finished: ago(3))) }
            pruned.append(try await insert(env, .failed, created: ago(5), finished: ago(4)))
            pruned.append(try await insert(env, .cancelled, created: ago(3), finished: ago(2.5)))
            kept.append(try await insert(env, .completed, created: ago(3), finished: ago(0.5)))  // a long run, finished recently
            kept.append(try await insert(env, .failed, created: ago(3), finished: ago(1.5)))  // failed keeps 2 h
            kept.append(try await insert(env, .running, created: ago(5), finished: nil))  // old, not finished
            kept.append(try await insert(env, .retrying, created: ago(5), finished: nil))
            kept.append(try await insert(env, .queued, created: ago(5), finished: nil))
            kept.append(try await env.queue.enqueue(NewTask(type: "noop")).task.id)

            // Batches of two: three for the completed ones, each its own transaction.
            let counts = try await env.queue.store.prune(policy.periods, batchSize: 2, maxBatches: 100)
            #expect(counts == [.completed: 5, .failed: 1, .cancelled: 1])
            for id in pruned {
                #expect(try await env.queue.task(id) == nil)
                #expect(try await executionCount(env, id) == 0)
            }
            for id in kept { #expect(try await env.queue.task(id) != nil) }
            #expect(try await executionCount(env, kept[0]) == 1)
            #expect(try await env.queue.prunedCounts() == [.completed: 5, .failed: 1, .cancelled: 1])
            // The counts stay right: what was pruned is gone from them, the rest is still there.
            let remaining = try await env.queue.counts()
            #expect(remaining.byStatus[.completed] == 1)
            #expect(remaining.byStatus[.failed] == 1)
            #expect((remaining.byStatus[.cancelled] ?? 0) == 0)
            #expect(remaining.byStatus[.running] == 1)

            // A second pass finds nothing more; the totals keep adding up across passes.
            #expect(try await env.queue.store.prune(policy.periods, batchSize: 2, maxBatches: 100) == [.completed: 0, .failed: 0, .cancelled: 0])
            _ = try await insert(env, .completed, created: ago(3), finished: ago(2))
            #expect(try await env.queue.store.prune(policy.periods, batchSize: 2, maxBatches: 100)?[.completed] == 1)
            #expect(try await env.queue.prunedCounts()[.completed] == 6)
            // Keeping forever prunes nothing.
            _ = try await insert(env, .completed, created: ago(3), finished: ago(2))
            #expect(try await env.queue.store.prune(RetentionPolicy.keepForever.periods, batchSize: 2, maxBatches: 100) == [:])
            #expect(try await env.queue.counts().byStatus[.completed] == 2)
        }
    }

    @Test func onePrunerAtATimeAcrossProcesses() async throws {
        try await TestEnvironment.with { env in
            let old = Date().addingTimeInterval(-3 * 3600)
            for _ in 0..<40 { _ = try await insert(env, .completed, created: old, finished: old) }
            // Another process (its own connection) is pruning: this one skips its pass.
            var other = env.configuration
            other.postgres = PostgresConfiguration(url: TestEnvironment.databaseURL, poolSize: 1, schema: env.name)
            other.runMigrations = false
            let otherProcess = try await TaskQueue.connect(configuration: other)
            try await otherProcess.execute("SELECT pg_advisory_lock(hashtext('taskflow.pruner:' || current_schema()))")
            #expect(try await env.queue.store.prune(policy.periods, batchSize: 10, maxBatches: 100) == nil)
            #expect(try await env.queue.counts().byStatus[.completed] == 40)
            try await otherProcess.execute("SELECT pg_advisory_unlock(hashtext('taskflow.pruner:' || current_schema()))")

            // Two passes at once from two processes: the work is done once, never twice.
            async let first = env.queue.store.prune(policy.periods, batchSize: 5, maxBatches: 100)
            async let second = otherProcess.store.prune(policy.periods, batchSize: 5, maxBatches: 100)
            let results = try await [first, second]
            #expect(results.compactMap { $0?[.completed] }.reduce(0, +) == 40)
            #expect(try await env.queue.prunedCounts()[.completed] == 40)
            #expect((try await env.queue.counts().byStatus[.completed] ?? 0) == 0)
        }
    }

    @Test func aWorkersPrunerDeletesWhatItRanOnceItsPeriodPasses() async throws {
        try await TestEnvironment.with { env in
            var configuration = env.workerConfiguration()
            configuration.retention = RetentionPolicy(completed: .milliseconds(500), failed: nil, cancelled: nil)
            configuration.pruneInterval = .milliseconds(200)
            let worker = env.startWorker(try testRegistry(RunLog()), configuration: configuration)
            let ids = try await env.queue.enqueueBatch((0..<5).map { _ in NewTask(type: "noop") }).map(\.task.id)
            let failed = try await env.queue.enqueue(NewTask(type: "terminal")).task.id
            for id in ids { try await env.waitFor(id, .completed) }
            try await env.waitFor(failed, .failed)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while clock.now < deadline, try await env.queue.prunedCounts()[.completed] ?? 0 < 5 {
                try await Task.sleep(for: .milliseconds(100))
            }
            for id in ids {
                #expect(try await env.queue.task(id) == nil)
                #expect(try await executionCount(env, id) == 0)
            }
            // Failed tasks are kept forever under this policy.
            #expect(try await env.queue.task(failed)?.status == .failed)
            try await worker.stop()
        }
    }
}
