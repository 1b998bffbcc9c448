import Foundation
import Testing

@testable import TaskQueue

@Suite("Enqueue, read, cancel, retry")
struct EnqueueTests {
    @Test func anIdempotencyKeyMakesOneTask() async throws {
        try await TestEnvironment.with { env in
            let first = try await env.queue.enqueue("noop", payload: ["to": "a@example.com"], idempotencyKey: "welcome-42")
            let second = try await env.queue.enqueue("noop", payload: ["to": "a@example.com"], idempotencyKey: "welcome-42")
            #expect(first.created)
            #expect(!second.created)
            #expect(first.task.id == second.task.id)
            await #expect(throws: TaskQueueError.self) {
                try await env.queue.enqueue("noop", payload: ["to": "b@example.com"], idempotencyKey: "welcome-42")
            }
            let batch = try await env.queue.enqueueBatch([
                NewTask(type: "noop", idempotencyKey: "k1"), NewTask(type: "noop", idempotencyKey: "k1"),
            ])
            #expect(batch[0].task.id == batch[1].task.id)
            #expect(batch.map(\.created) == [true, false])
            // Keyed and unkeyed tasks in one batch (two inserts in one statement): every result
            // in its place.
            let mixed = try await env.queue.enqueueBatch([
                NewTask(type: "noop"), NewTask(type: "noop", idempotencyKey: "k2"), NewTask(type: "noop"),
                NewTask(type: "noop", idempotencyKey: "k2"),
                try NewTask(type: "noop", payload: ["to": "a@example.com"], idempotencyKey: "welcome-42"),
            ])
            #expect(mixed.map(\.created) == [true, true, true, false, false])
            #expect(mixed[3].task.id == mixed[1].task.id)
            #expect(mixed[4].task.id == first.task.id)
            #expect(Set(mixed.map(\.task.id)).count == 4)
            #expect(try await env.queue.counts().byStatus[.queued] == 5)
            #expect(try await env.queue.streamState().work?.messages == 5)
        }
    }

    @Test func concurrentEnqueuesShareBatchesButKeepTheirOwnOutcome() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.queue.enqueue("noop", payload: ["v": 1], idempotencyKey: "taken")
            let outcomes = await withTaskGroup(of: (Int, Result<EnqueueResult, any Error>).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            // Every 50th call reuses a key with another payload: only that call fails.
                            let key = index % 50 == 0 ? "taken" : "k\(index)"
                            return (index, .success(try await env.queue.enqueue("noop", payload: ["v": index + 2], idempotencyKey: key)))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                return await group.reduce(into: [Int: Result<EnqueueResult, any Error>]()) { $0[$1.0] = $1.1 }
            }
            for (index, outcome) in outcomes {
                switch outcome {
                case .success(let result):
                    #expect(index % 50 != 0)
                    #expect(result.created)
                    #expect(result.task.isPublished)
                case .failure(let error):
                    #expect(index % 50 == 0, "call \(index) failed: \(error)")
                    #expect((error as? TaskQueueError)?.code == .idempotencyConflict)
                }
            }
            #expect(try await env.queue.counts().byStatus[.queued] == 197)
            #expect(try await env.queue.streamState().work?.messages == 197)
        }
    }

    @Test func aPayloadPostgreSQLRejectsFailsOnlyItsOwnTask() async throws {
        try await TestEnvironment.with { env in
            // Valid JSON that jsonb cannot store: it breaks a batch INSERT for every task in it.
            let bad = #"{"s":"a\u0000b"}"#
            let outcomes = await withTaskGroup(of: (Int, Result<EnqueueResult, any Error>).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let task = NewTask(type: "noop", payloadJSON: index % 10 == 3 ? bad : #"{"n":\#(index)}"#)
                        do { return (index, .success(try await env.queue.enqueue(task))) } catch { return (index, .failure(error)) }
                    }
                }
                return await group.reduce(into: [Int: Result<EnqueueResult, any Error>]()) { $0[$1.0] = $1.1 }
            }
            for (index, outcome) in outcomes {
                switch outcome {
                case .success(let result):
                    #expect(index % 10 != 3)
                    #expect(result.created)
                case .failure(let error):
                    #expect(index % 10 == 3, "call \(index) failed: \(error)")
                    #expect((error as? TaskQueueError)?.code == .invalidArgument)
                }
            }
            let queuedFirst = try await env.queue.counts().byStatus[.queued]
            #expect(queuedFirst == 36)

            // A batch keeps what it can and reports the first task it could not store.
            var tasks = (0..<20).map { NewTask(type: "noop", payloadJSON: #"{"n":\#($0)}"#) }
            tasks[7] = NewTask(type: "noop", payloadJSON: bad)
            await #expect(throws: TaskQueueError.self) { try await env.queue.enqueueBatch(tasks) }
            let queuedAfter = try await env.queue.counts().byStatus[.queued]
            #expect(queuedAfter == 55)
        }
    }

    @Test func sessionsPlanByIndexEvenOnANewTable() async throws {
        try await TestEnvironment.with { env in
            // A small, freshly analyzed tasks table makes a sequential scan look cheapest, and a prepared statement
            // would keep that plan as the table grows. TaskFlow's sessions must not pick one.
            _ = try await env.queue.enqueueBatch((0..<5).map { _ in NewTask(type: "noop") })
            let plan = try await env.queue.pool.withSession { session in
                try session.executeScript("ANALYZE tasks")
                return try session.execute("EXPLAIN SELECT id FROM tasks WHERE id = ANY($1::uuid[])", [PostgresArray([UUID()])])
            }
            let text = plan.rows.compactMap { $0.values.first ?? nil }.joined(separator: "\n")
            #expect(!text.contains("Seq Scan"), "\(text)")
            #expect(text.contains("tasks_pkey"), "\(text)")
        }
    }

    @Test func claimAndFinishReachRowsByKeyWhateverTheTablesLookedLike() async throws {
        try await TestEnvironment.with { env in
            // Plans are made once per session, here while task_executions is analyzed as empty:
            // every index scan in them must still be bounded by a key condition, not walk a
            // whole index (which grows with the table) on each claim or finish.
            _ = try await env.queue.enqueueBatch((0..<5).map { _ in NewTask(type: "noop") })
            let ids = PostgresArray([UUID.timeOrdered(), UUID.timeOrdered()])
            let plans = try await env.queue.pool.withSession { session in
                try session.executeScript("ANALYZE tasks; ANALYZE task_executions")
                var plans = [try session.execute("EXPLAIN " + TaskStore.claimSQL, [ids, "w", 1000, PostgresArray([Int64(0), 0])])]
                for sql in [TaskStore.finishSQL, TaskStore.finishClosingOpenRowsSQL] {
                    plans.append(
                        try session.execute(
                            "EXPLAIN " + sql,
                            [
                                ids, PostgresArray([1, 1]), PostgresArray(["completed", "completed"]),
                                PostgresArray([String?.none, nil]), PostgresArray([0.0, 0.0]),
                            ]))
                }
                return plans
            }
            for plan in plans {
                let lines = plan.rows.compactMap { $0.values.first ?? nil }
                let text = lines.joined(separator: "\n")
                #expect(!text.contains("Seq Scan"), "\(text)")
                let scans = lines.filter { $0.contains("Index Scan") || $0.contains("Index Only Scan") }.count
                let bounded = lines.filter { $0.contains("Index Cond") }.count
                #expect(scans > 0 && scans == bounded, "\(text)")
            }
        }
    }

    @Test func aRolledBackTransactionEnqueuesNothing() async throws {
        try await TestEnvironment.with { env in
            struct Abort: Error {}
            var enqueued: UUID?
            await #expect(throws: Abort.self) {
                try await env.queue.withTransaction { transaction in
                    try await transaction.execute("CREATE TABLE orders (id int PRIMARY KEY)")
                    try await transaction.execute("INSERT INTO orders VALUES ($1)", ["1"])
                    enqueued = try await transaction.enqueue(NewTask(type: "noop")).task.id
                    throw Abort()
                }
            }
            let id = try #require(enqueued)
            #expect(try await env.queue.task(id) == nil)
            #expect(try await env.queue.streamState().work?.messages == 0)

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let committed = try await env.queue.withTransaction { transaction in
                try await transaction.execute("CREATE TABLE orders (id int PRIMARY KEY)")
                try await transaction.execute("INSERT INTO orders VALUES ($1)", ["2"])
                return try await transaction.enqueue(NewTask(type: "noop")).task.id
            }
            try await env.waitFor(committed, .completed)
            try await Task.sleep(for: .milliseconds(300))
            #expect(log.startCount(id) == 0)
            try await worker.stop()
        }
    }

    @Test func cancelOnlyBeforeStartAndReplayOnlyAfterFailure() async throws {
        try await TestEnvironment.with { env in
            let scheduled = try await env.queue.enqueue("noop", payload: Empty(), delay: .seconds(60)).task.id
            #expect(try await env.queue.cancel(scheduled).status == .cancelled)
            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(scheduled) }
            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(UUID()) }
            await #expect(throws: TaskQueueError.self) { try await env.queue.retry(scheduled) }

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let flaky = try await env.queue.enqueue("flaky", payload: Flaky(failures: 1), maxAttempts: 1).task.id
            try await env.waitFor(flaky, .failed)
            let retried = try await env.queue.retry(flaky)
            #expect(retried.status == .queued)
            try await env.waitFor(flaky, .completed)
            #expect(try await env.queue.executions(of: flaky).map(\.status) == [.failed, .succeeded])
            #expect(try await env.queue.executions(of: flaky).map(\.attempt) == [1, 2])
            try await worker.stop()
        }
    }

    @Test func listingPagesNewestFirstWithFilters() async throws {
        try await TestEnvironment.with { env in
            var ids: [UUID] = []
            for index in 0..<7 {
                let priority: TaskPriority = index.isMultiple(of: 2) ? .high : .low
                ids.append(try await env.queue.enqueue("noop", payload: Empty(), priority: priority).task.id)
            }
            var seen: [UUID] = []
            var cursor: String?
            repeat {
                let page = try await env.queue.tasks(TaskQuery(limit: 3, cursor: cursor))
                seen += page.tasks.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == ids.reversed())
            let highs = try await env.queue.tasks(TaskQuery(priority: .high, limit: 200))
            #expect(highs.tasks.count == 4)
            #expect(highs.nextCursor == nil)
            #expect(try await env.queue.tasks(TaskQuery(status: .completed)).tasks.isEmpty)
            let counts = try await env.queue.counts()
            #expect(counts.byPriority[.high] == 4)
            #expect(counts.byPriority[.low] == 3)
            await #expect(throws: TaskQueueError.self) { try await env.queue.tasks(TaskQuery(cursor: "bogus")) }
        }
    }

    @Test func listingByStatusPagesCompletedAndUnfinishedTasks() async throws {
        try await TestEnvironment.with { env in
            // Completed tasks are listed from the primary key, the other statuses from
            // tasks_status_idx (which leaves completed tasks out): both must page newest first.
            var ids: [UUID] = []
            for _ in 0..<6 { ids.append(try await env.queue.enqueue("noop", payload: Empty()).task.id) }
            let cancelled = [ids[1], ids[4]]
            for id in cancelled { _ = try await env.queue.cancel(id) }
            let completed = ids.filter { !cancelled.contains($0) }
            let worker = env.startWorker(try testRegistry(RunLog()))
            for id in completed { try await env.waitFor(id, .completed) }
            try await worker.stop()

            func all(_ status: TaskStatus) async throws -> [UUID] {
                var seen: [UUID] = []
                var cursor: String?
                repeat {
                    let page = try await env.queue.tasks(TaskQuery(status: status, limit: 1, cursor: cursor))
                    #expect(page.tasks.allSatisfy { $0.status == status })
                    seen += page.tasks.map(\.id)
                    cursor = page.nextCursor
                } while cursor != nil
                return seen
            }
            #expect(try await all(.completed) == completed.reversed())
            #expect(try await all(.cancelled) == cancelled.reversed())
            #expect(try await all(.queued).isEmpty)
            #expect(try await env.queue.tasks(TaskQuery(limit: 200)).tasks.map(\.id) == ids.reversed())
        }
    }

    @Test func aPoolConnectionKilledByTheServerReconnectsBeforeTheNextStatement() async throws {
        try await TestEnvironment.with { env in
            // Mark this test's pooled session, then have the server terminate it, as a restart would.
            let marker = "taskflow-reconnect-\(UUID().uuidString)"
            // The marker is part of the statement text, which pg_stat_activity shows.
            try await env.queue.pool.withSession { try $0.execute("SELECT 1 AS \"\(marker)\"") }
            let other = PostgresPool(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL, poolSize: 1))
            let terminated = try await other.withSession { session in
                try session.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE strpos(query, $1) > 0 AND pid <> pg_backend_pid()",
                    [marker]
                ).rows.count
            }
            #expect(terminated >= 1)
            try await Task.sleep(for: .milliseconds(100))
            // The dead session is noticed and replaced before the statement goes out: no error at all.
            try await env.queue.pingDatabase()
            #expect(try await env.queue.enqueue("noop", payload: Empty()).created)
        }
    }
}
