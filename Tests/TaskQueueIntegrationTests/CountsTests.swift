import Foundation
import Testing

@testable import TaskQueue

@Suite("Counts kept by the statements that finish tasks")
struct CountsTests {
    /// The counts by reading every row, as /stats once did.
    func countedRowByRow(_ env: TestEnvironment) async throws -> [TaskStatus: [TaskPriority: Int]] {
        var counts: [TaskStatus: [TaskPriority: Int]] = [:]
        for row in try await env.queue.execute("SELECT status, priority, count(*) AS n FROM tasks GROUP BY status, priority") {
            guard let status = TaskStatus(rawValue: (row["status"] ?? nil) ?? ""),
                let priority = TaskPriority(rawValue: (row["priority"] ?? nil) ?? ""),
                let n = Int((row["n"] ?? nil) ?? "")
            else { continue }
            counts[status, default: [:]][priority] = n
        }
        return counts
    }

    /// Whether the kept counts agree with the rows, by status and priority and in both totals.
    func expectCountsAgree(_ env: TestEnvironment, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let truth = try await countedRowByRow(env)
        let kept = try await env.queue.counts()
        for status in TaskStatus.allCases {
            let byPriority = truth[status] ?? [:]
            #expect(kept.byStatus[status] == byPriority.values.reduce(0, +), "\(status)", sourceLocation: sourceLocation)
            for priority in TaskPriority.allCases {
                #expect(
                    (kept.byStatusAndPriority[status]?[priority] ?? 0) == (byPriority[priority] ?? 0), "\(status) \(priority)", sourceLocation: sourceLocation)
            }
        }
        for priority in TaskPriority.allCases {
            #expect(kept.byPriority[priority] == truth.values.reduce(0) { $0 + ($1[priority] ?? 0) }, "\(priority)", sourceLocation: sourceLocation)
        }
    }

    @Test func countsStayRightThroughFinishesCancelsRetriesAndPruning() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            try await expectCountsAgree(env)
            // Some tasks to cancel before any worker runs, of two priorities.
            var toCancel: [UUID] = []
            for index in 0..<6 {
                toCancel.append(try await env.queue.enqueue(NewTask(type: "noop", priority: index % 2 == 0 ? .high : .low)).task.id)
            }
            for id in toCancel.prefix(4) { _ = try await env.queue.cancel(id) }
            try await expectCountsAgree(env)
            // Cancelling again changes nothing and counts nothing twice.
            await #expect(throws: TaskQueueError.self) { try await env.queue.cancel(toCancel[0]) }
            try await expectCountsAgree(env)

            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 8))
            var completed: [UUID] = []
            var failed: [UUID] = []
            for index in 0..<40 {
                let priority: TaskPriority = [.high, .normal, .low][index % 3]
                completed.append(try await env.queue.enqueue(NewTask(type: "noop", priority: priority)).task.id)
            }
            for index in 0..<5 {
                failed.append(
                    try await env.queue.enqueue(NewTask(type: "terminal", payloadJSON: "{}", priority: index % 2 == 0 ? .normal : .high)).task.id)
            }
            for id in completed + toCancel.suffix(2) { try await env.waitFor(id, .completed) }
            for id in failed { try await env.waitFor(id, .failed) }
            try await expectCountsAgree(env)
            // The same after the deltas are folded into the totals (the reconciler does it too).
            try await env.queue.store.foldCounts()
            try await expectCountsAgree(env)
            #expect(try await env.queue.counts().byStatus[.completed] == 42)
            #expect(try await env.queue.counts().byStatus[.failed] == 5)
            #expect(try await env.queue.counts().byStatus[.cancelled] == 4)
            let recent = try await env.queue.finishedRecently()
            #expect(recent.completed == 42)
            #expect(recent.failed == 5)

            // A failed task retried leaves the failed count; when it fails again it is back.
            _ = try await env.queue.retry(failed[0])
            try await env.waitFor(failed[0], .failed)
            try await expectCountsAgree(env)
            #expect(try await env.queue.counts().byStatus[.failed] == 5)
            #expect(try await env.queue.finishedRecently().failed == 6)
            try await worker.stop()
            try await env.queue.store.foldCounts()
            #expect(try await env.queue.finishedRecently().completed == 42)
            #expect(try await env.queue.finishedRecently().failed == 6)

            // Pruning takes what it deletes out of the counts (everything is past a zero period).
            let everything = RetentionPolicy(completed: .milliseconds(1), failed: .milliseconds(1), cancelled: .milliseconds(1))
            try await Task.sleep(for: .milliseconds(20))
            let pruned = try await env.queue.store.prune(everything.periods, batchSize: 7, maxBatches: 100, now: Date().addingTimeInterval(1))
            #expect(pruned == [.completed: 42, .failed: 5, .cancelled: 4])
            try await expectCountsAgree(env)
            #expect(try await env.queue.counts().byStatus.values.reduce(0, +) == 0)
        }
    }

    @Test func recountRebuildsCountsAfterChangesMadeByHand() async throws {
        try await TestEnvironment.with { env in
            for _ in 0..<3 { _ = try await env.queue.enqueue(NewTask(type: "noop")) }
            // Changed behind TaskFlow's back: the kept counts cannot know.
            try await env.queue.execute("UPDATE tasks SET status = 'completed', finished_at = now()")
            #expect(try await env.queue.counts().byStatus[.completed] == 0)
            try await env.queue.recountFinishedTasks()
            try await expectCountsAgree(env)
            #expect(try await env.queue.counts().byStatus[.completed] == 3)
        }
    }
}

@Suite("Listings by type and priority over finished and unfinished tasks")
struct ListingTests {
    @Test func typeAndPriorityListingsMergeFinishedAndUnfinishedTasksNewestFirst() async throws {
        try await TestEnvironment.with { env in
            // Enqueued one by one, so ids (time-ordered) follow this order; every third one is
            // cancelled (finished), the rest stay queued (no worker runs).
            var all: [(id: UUID, type: String, priority: TaskPriority)] = []
            for index in 0..<18 {
                let type = index % 2 == 0 ? "report" : "email"
                let priority: TaskPriority = [.high, .normal, .low][index % 3]
                let id = try await env.queue.enqueue(NewTask(type: type, priority: priority)).task.id
                if index % 3 != 1 && index % 4 == 0 { _ = try await env.queue.cancel(id) }
                all.append((id, type, priority))
                try await Task.sleep(for: .milliseconds(2))
            }
            func pages(_ query: TaskQuery) async throws -> [UUID] {
                var ids: [UUID] = []
                var query = query
                query.limit = 2
                repeat {
                    let page = try await env.queue.tasks(query)
                    ids += page.tasks.map(\.id)
                    query.cursor = page.nextCursor
                } while query.cursor != nil
                return ids
            }
            let newestFirst = all.reversed()
            #expect(try await pages(TaskQuery(type: "report")) == newestFirst.filter { $0.type == "report" }.map(\.id))
            #expect(try await pages(TaskQuery(priority: .high)) == newestFirst.filter { $0.priority == .high }.map(\.id))
            #expect(try await pages(TaskQuery(priority: .low)) == newestFirst.filter { $0.priority == .low }.map(\.id))
            #expect(
                try await pages(TaskQuery(type: "email", priority: .high))
                    == newestFirst.filter { $0.type == "email" && $0.priority == .high }.map(\.id))
            let cancelledReports = try await pages(TaskQuery(status: .cancelled, type: "report"))
            #expect(!cancelledReports.isEmpty)
            for id in cancelledReports { #expect(try await env.queue.task(id)?.status == .cancelled) }
        }
    }
}
