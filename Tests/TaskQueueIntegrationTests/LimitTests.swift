import Foundation
import Testing

@testable import TaskQueue

@Suite("Fleet-wide limits: concurrency and rate per type, held without attempts, released as room appears")
struct LimitTests {
    /// Each attempt's [start, end] as recorded, in start order.
    func attemptSpans(_ env: TestEnvironment, type: String) async throws -> [(start: Date, end: Date)] {
        try await env.queue.pool.withSession { session in
            try session.execute(
                """
                SELECT e.started_at, e.finished_at FROM task_executions e JOIN tasks t ON t.id = e.task_id
                WHERE t.type = $1 ORDER BY e.started_at
                """, [type])
        }.rows.map { (try $0.date("started_at"), try $0.date("finished_at")) }
    }

    /// The most attempts that overlapped at any instant.
    func maxOverlap(_ spans: [(start: Date, end: Date)]) -> Int {
        // Ends sort before starts at the same instant: a slot freed and taken at once is no overlap.
        var events: [(at: Date, change: Int)] = []
        for span in spans {
            events.append((span.start, 1))
            events.append((span.end, -1))
        }
        events.sort { lhs, rhs in lhs.at == rhs.at ? lhs.change < rhs.change : lhs.at < rhs.at }
        var current = 0
        var most = 0
        for (_, change) in events {
            current += change
            most = max(most, current)
        }
        return most
    }

    /// The most attempts that started within any window of `window` seconds (half-open).
    func maxStartsInWindow(_ starts: [Date], window: TimeInterval) -> Int {
        let sorted = starts.sorted()
        var most = 0
        var first = 0
        for (index, start) in sorted.enumerated() {
            while start.timeIntervalSince(sorted[first]) >= window { first += 1 }
            most = max(most, index - first + 1)
        }
        return most
    }

    @Test func threeWorkersNeverRunMoreThanTheConcurrencyLimit() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.setLimits(TaskTypeLimits(concurrency: 2), for: "slow")
            let log = RunLog()
            let workers = (0..<3).map { _ in env.startWorker(try! testRegistry(log), configuration: env.workerConfiguration(concurrency: 4)) }
            let ids = try await env.queue.enqueueBatch((0..<12).map { _ in try NewTask(type: "slow", payload: SlowPayload(ms: 150)) }).map(\.task.id)
            let other = try await env.queue.enqueueBatch((0..<10).map { _ in NewTask(type: "noop") }).map(\.task.id)
            var sampledMost = 0
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while try await ids.asyncAllFinished(env) == false, ContinuousClock.now < deadline {
                let running = try await env.queue.limits(for: "slow")?.running ?? 0
                sampledMost = max(sampledMost, running)
                try await Task.sleep(for: .milliseconds(10))
            }
            for id in ids + other { try await env.waitFor(id, .completed) }
            let spans = try await attemptSpans(env, type: "slow")
            #expect(spans.count == ids.count)  // one attempt each: waiting spent none
            #expect(maxOverlap(spans) == 2)  // the limit held, and was used
            #expect(sampledMost <= 2)
            for id in ids { #expect(log.successCount(id) == 1) }
            #expect(try await env.queue.heldTaskCount() == 0)
            for worker in workers { try await worker.stop() }
        }
    }

    @Test func threeWorkersNeverStartMoreThanTheRateAllows() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.setLimits(TaskTypeLimits(rate: .init(count: 4, per: .seconds(1))), for: "noop")
            let log = RunLog()
            let workers = (0..<3).map { _ in env.startWorker(try! testRegistry(log), configuration: env.workerConfiguration(concurrency: 8)) }
            let began = Date()
            let ids = try await env.queue.enqueueBatch((0..<14).map { _ in NewTask(type: "noop") }).map(\.task.id)
            for id in ids { try await env.waitFor(id, .completed, timeout: .seconds(30)) }
            let starts = try await attemptSpans(env, type: "noop").map(\.start)
            #expect(starts.count == ids.count)
            #expect(maxStartsInWindow(starts, window: 1) == 4)
            // 14 starts at 4 a second: the last window opens 3 s after the first.
            #expect(Date().timeIntervalSince(began) >= 3)
            let state = try #require(try await env.queue.limits(for: "noop"))
            #expect(state.startedInWindow ?? 0 <= 4)
            for worker in workers { try await worker.stop() }
            // Lifted: its recorded starts go with it.
            #expect(try await env.queue.removeLimits(for: "noop"))
            let recorded = try await env.queue.pool.withSession { try $0.execute("SELECT count(*) AS n FROM task_type_starts") }
            #expect(try recorded.rows[0].int("n") == 0)
        }
    }

    @Test func liftingALimitReleasesHeldTasksAndRaisingItMakesRoomAtOnce() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.setLimits(TaskTypeLimits(concurrency: 1), for: "slow")
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 8))
            let ids = try await env.queue.enqueueBatch((0..<6).map { _ in try NewTask(type: "slow", payload: SlowPayload(ms: 3000)) }).map(\.task.id)
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while try await env.queue.heldTaskCount() < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await env.queue.heldTaskCount() == 5)
            #expect(ids.filter { log.startCount($0) > 0 }.count == 1)

            try await env.queue.setLimits(TaskTypeLimits(concurrency: 3), for: "slow")
            let raised = ContinuousClock.now.advanced(by: .seconds(5))
            while ids.filter({ log.startCount($0) > 0 }).count < 3, ContinuousClock.now < raised { try await Task.sleep(for: .milliseconds(20)) }
            #expect(ids.filter { log.startCount($0) > 0 }.count == 3)

            #expect(try await env.queue.removeLimits(for: "slow"))
            #expect(try await !env.queue.removeLimits(for: "slow"))
            #expect(try await env.queue.limits(for: "slow") == nil)
            let lifted = ContinuousClock.now.advanced(by: .seconds(5))
            while ids.filter({ log.startCount($0) > 0 }).count < 6, ContinuousClock.now < lifted { try await Task.sleep(for: .milliseconds(20)) }
            #expect(ids.filter { log.startCount($0) > 0 }.count == 6)
            for id in ids { try await env.waitFor(id, .completed) }
            for id in ids { #expect(try await env.queue.task(id)?.attempts == 1) }
            try await worker.stop()
        }
    }

    @Test func tasksAlreadyRunningWhenALimitIsSetCountAgainstIt() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 8))
            let first = try await env.queue.enqueueBatch((0..<3).map { _ in try NewTask(type: "slow", payload: SlowPayload(ms: 2500)) }).map(\.task.id)
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while first.contains(where: { log.startCount($0) == 0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            // Three run without a limit; a limit of 2 set now counts them, so nothing more starts
            // until two of them have finished.
            try await env.queue.setLimits(TaskTypeLimits(concurrency: 2), for: "slow")
            try await Task.sleep(for: .milliseconds(1200))  // the worker reads limited types every second
            let later = try await env.queue.enqueueBatch((0..<2).map { _ in try NewTask(type: "slow", payload: SlowPayload(ms: 100)) }).map(\.task.id)
            for id in first { try await env.waitFor(id, .completed) }
            for id in later { try await env.waitFor(id, .completed) }
            let firstEnded = try #require(try await first.asyncMap { try await env.queue.task($0)?.finishedAt }.compactMap { $0 }.max())
            for id in later {
                let started = try #require(try await env.queue.task(id)?.startedAt)
                #expect(started >= firstEnded.addingTimeInterval(-0.05), "a task started while the limit was full")
            }
            try await worker.stop()
        }
    }

    @Test func limitsDeclaredInCodeApplyOnceAndARunTimeChangeSurvivesRestarts() async throws {
        try await TestEnvironment.with { env in
            func registry(_ limits: TaskTypeLimits) throws -> TaskHandlerRegistry {
                let registry = TaskHandlerRegistry()
                try registry.register(TaskDefinition<Empty>("report.generate", limits: limits)) { _, _ in }
                return registry
            }
            var worker = env.startWorker(try registry(TaskTypeLimits(concurrency: 5)))
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while try await env.queue.limits(for: "report.generate") == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await env.queue.limits(for: "report.generate")?.limits == TaskTypeLimits(concurrency: 5))
            try await worker.stop()

            // Changed at run time; a restart with the same declaration keeps the change.
            try await env.queue.setLimits(TaskTypeLimits(concurrency: 7), for: "report.generate")
            worker = env.startWorker(try registry(TaskTypeLimits(concurrency: 5)))
            try await Task.sleep(for: .milliseconds(500))
            try await worker.stop()
            #expect(try await env.queue.limits(for: "report.generate")?.limits == TaskTypeLimits(concurrency: 7))

            // A new declaration in code replaces it.
            let rate = TaskTypeLimits(concurrency: 2, rate: .init(count: 100, per: .seconds(60)))
            worker = env.startWorker(try registry(rate))
            let changed = ContinuousClock.now.advanced(by: .seconds(10))
            while try await env.queue.limits(for: "report.generate")?.limits != rate, ContinuousClock.now < changed {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await env.queue.limits(for: "report.generate")?.limits == rate)
            #expect(try await env.queue.allLimits().map(\.type) == ["report.generate"])
            try await worker.stop()
        }
    }

    @Test func badLimitsAreRejectedNamingTheField() async throws {
        try await TestEnvironment.with { env in
            let cases: [(TaskTypeLimits, String)] = [
                (TaskTypeLimits(), "concurrency"),
                (TaskTypeLimits(concurrency: 0), "concurrency"),
                (TaskTypeLimits(rate: .init(count: 0, per: .seconds(1))), "rate.count"),
                (TaskTypeLimits(rate: .init(count: 1, per: .milliseconds(1500))), "rate.per_seconds"),
                (TaskTypeLimits(rate: .init(count: 1, per: .seconds(86_401))), "rate.per_seconds"),
            ]
            for (limits, field) in cases {
                do {
                    try await env.queue.setLimits(limits, for: "noop")
                    Issue.record("accepted \(limits)")
                } catch let error as TaskQueueError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.field == field)
                }
            }
            await #expect(throws: TaskQueueError.self) { try await env.queue.setLimits(TaskTypeLimits(concurrency: 1), for: "has space") }
            #expect(try await env.queue.allLimits().isEmpty)
        }
    }
}

extension Array where Element == UUID {
    func asyncMap<T>(_ transform: (UUID) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for id in self { results.append(try await transform(id)) }
        return results
    }

    /// Whether every task here has finished.
    func asyncAllFinished(_ env: TestEnvironment) async throws -> Bool {
        for id in self where try await env.queue.task(id)?.status.isTerminal != true { return false }
        return true
    }
}
