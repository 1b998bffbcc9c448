import Foundation
import Testing

@testable import TaskQueue

@Suite("Schedules: saved, fired exactly once, missed fires, declared in code")
struct ScheduleTests {
    /// Tasks created by `schedule`, with the fire time each was created for.
    func fires(_ env: TestEnvironment, _ schedule: String) async throws -> [(fireAt: String, tasks: Int)] {
        let rows = try await env.queue.pool.withSession { session in
            try session.execute(
                """
                SELECT f.fire_at::text AS fire_at, count(t.id) AS tasks
                FROM schedule_fires f LEFT JOIN tasks t ON t.id = f.task_id AND t.schedule = f.schedule
                WHERE f.schedule = $1 AND NOT f.manual GROUP BY f.fire_at ORDER BY f.fire_at
                """, [schedule])
        }
        return try rows.rows.map { (try $0.string("fire_at"), try $0.int("tasks")) }
    }

    func taskCount(_ env: TestEnvironment, schedule: String) async throws -> Int {
        try await env.queue.pool.withSession { session in
            try session.execute("SELECT count(*) AS n FROM tasks WHERE schedule = $1", [schedule])
        }.rows[0].int("n")
    }

    @Test func schedulesAreSavedReadChangedPausedAndDeleted() async throws {
        try await TestEnvironment.with { env in
            let queue = env.queue
            let nightly = try Schedule(
                "nightly-report", cron: "30 2 * * *", timeZone: "Europe/Paris", type: "noop", payloadJSON: #"{"kind":"full"}"#,
                priority: .low, maxAttempts: 3, missed: .once)
            let created = try await queue.createSchedule(nightly)
            // Everything as saved; the payload as jsonb writes it.
            var stored = nightly
            stored.payloadJSON = #"{"kind": "full"}"#
            #expect(created.schedule == stored)
            #expect(!created.paused)
            #expect(created.nextFires.count == 5)
            #expect(zip(created.nextFires, created.nextFires.dropFirst()).allSatisfy { $0.0 < $0.1 })
            #expect(created.lastFires.isEmpty)
            // 02:30 in Paris: 00:30 or 01:30 UTC.
            let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: created.nextFires[0])
            #expect([0, 1].contains(utc.hour) && utc.minute == 30)

            await #expect(throws: TaskQueueError.self) { try await queue.createSchedule(nightly) }
            do {
                try await queue.createSchedule(nightly)
            } catch let error as TaskQueueError {
                #expect(error.code == .scheduleExists)
            }

            var changed = nightly
            changed.payloadJSON = #"{"kind":"short"}"#
            let updated = try await queue.updateSchedule(changed)
            #expect(updated.schedule.payloadJSON == #"{"kind": "short"}"#)
            // Same timing: the next fire time stays.
            #expect(updated.nextFires[0] == created.nextFires[0])

            let paused = try await queue.pauseSchedule(named: "nightly-report")
            #expect(paused.paused && paused.nextFires.isEmpty)
            #expect(try await queue.resumeSchedule(named: "nightly-report").paused == false)

            let triggered = try await queue.triggerSchedule(named: "nightly-report")
            #expect(triggered.schedule == "nightly-report")
            #expect(triggered.type == "noop" && triggered.priority == .low && triggered.maxAttempts == 3)
            #expect(try await queue.task(triggered.id)?.schedule == "nightly-report")
            let afterTrigger = try #require(try await queue.schedule(named: "nightly-report"))
            #expect(afterTrigger.lastFires.map(\.taskID) == [triggered.id])
            #expect(afterTrigger.lastFires.first?.manual == true)

            #expect(try await queue.schedules().map(\.schedule.name) == ["nightly-report"])
            try await queue.deleteSchedule(named: "nightly-report")
            #expect(try await queue.schedule(named: "nightly-report") == nil)
            // The task it created stays.
            #expect(try await queue.task(triggered.id) != nil)
            for call in [
                { try await queue.deleteSchedule(named: "nightly-report") },
                { _ = try await queue.pauseSchedule(named: "nope") },
                { _ = try await queue.triggerSchedule(named: "nope") },
                { _ = try await queue.updateSchedule(nightly) },
            ] as [@Sendable () async throws -> Void] {
                do {
                    try await call()
                    Issue.record("expected scheduleNotFound")
                } catch let error as TaskQueueError {
                    #expect(error.code == .scheduleNotFound)
                }
            }
        }
    }

    @Test(arguments: [
        ("", "* * * * *", "UTC", "noop", "null", "name"), ("a/b", "* * * * *", "UTC", "noop", "null", "name"),
        ("ok", "61 * * * *", "UTC", "noop", "null", "cron"), ("ok", "@every 0s", "UTC", "noop", "null", "cron"),
        ("ok", "* * * * *", "Mars/Olympus", "noop", "null", "timezone"), ("ok", "* * * * *", "UTC", "bad type!", "null", "type"),
        ("ok", "* * * * *", "UTC", "noop", "{", "payload"),
    ])
    func aBadScheduleNamesItsField(name: String, cron: String, zone: String, type: String, payload: String, field: String) {
        #expect {
            try Schedule(name, cron: cron, timeZone: zone, type: type, payloadJSON: payload)
        } throws: { error in
            (error as? TaskQueueError)?.code == .invalidArgument && (error as? TaskQueueError)?.field == field
        }
    }

    @Test func firersRacingCreateOneTaskPerFireTime() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.createSchedule(try Schedule("tick", cron: "@every 1s", type: "noop"))
            let firers = (0..<3).map { _ in
                ScheduleFirer(
                    store: env.queue.store, publisher: env.queue.publisher, configuration: env.workerConfiguration(),
                    defaultMaxAttempts: 5, tracer: nil, logger: env.queue.logger)
            }
            // Three firers passing as fast as they can for about 3.5 seconds.
            let clock = ContinuousClock()
            let end = clock.now.advanced(by: .milliseconds(3500))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for firer in firers {
                    group.addTask {
                        while clock.now < end {
                            try await firer.pass()
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let fires = try await fires(env, "tick")
            #expect(fires.count >= 3)
            #expect(fires.allSatisfy { $0.tasks == 1 })
            #expect(try await taskCount(env, schedule: "tick") == fires.count)
            // Consecutive seconds: none missed.
            let seconds = fires.compactMap { PostgresTimestamp.parse($0.fireAt)?.timeIntervalSince1970 }
            #expect(zip(seconds, seconds.dropFirst()).allSatisfy { $0.1 - $0.0 == 1 })
            #expect(try await env.queue.streamState().work?.messages == UInt64(fires.count))
        }
    }

    @Test(arguments: [MissedFirePolicy.skip, .once])
    func missedFiresFollowThePolicy(policy: MissedFirePolicy) async throws {
        try await TestEnvironment.with { env in
            try await env.queue.createSchedule(try Schedule("hourly", cron: "@hourly", type: "noop", missed: policy))
            // As if no worker had run for three hours.
            _ = try await env.queue.pool.withSession { session in
                try session.execute("UPDATE schedules SET next_fire_at = date_trunc('hour', now()) - interval '3 hours'")
            }
            let firer = ScheduleFirer(
                store: env.queue.store, publisher: env.queue.publisher, configuration: env.workerConfiguration(),
                defaultMaxAttempts: 5, tracer: nil, logger: env.queue.logger)
            let created = try await firer.pass()
            let record = try #require(try await env.queue.schedule(named: "hourly"))
            #expect(record.nextFires[0] > Date())
            switch policy {
            case .skip:
                // Nothing for the missed hours (unless the hour turned in the last 5 seconds).
                #expect(created <= 1)
            case .once:
                // One catch-up run for the three hours, for the first missed fire time.
                #expect(created >= 1 && created <= 2)
                let first = try #require(record.lastFires.last)
                #expect(Date().timeIntervalSince(first.fireAt) > 3 * 3_600 - 60)
            }
            #expect(try await firer.pass() == 0)
        }
    }

    @Test func aWorkerDeclaresItsSchedulesOnceAndRunsTheirTasks() async throws {
        try await TestEnvironment.with { env in
            let declared = try Schedule("every-second", cron: "@every 1s", type: "noop", payloadJSON: "{}")
            // Declaring is idempotent: the same declaration changes nothing, a changed one updates.
            #expect(try await env.queue.declareSchedule(declared))
            let before = try #require(try await env.queue.schedule(named: "every-second"))
            #expect(try await !env.queue.declareSchedule(declared))
            #expect(try await env.queue.schedule(named: "every-second")?.updatedAt == before.updatedAt)

            let log = RunLog()
            var configuration = env.workerConfiguration()
            configuration.schedules = [declared]
            let worker = env.startWorker(try testRegistry(log), configuration: configuration)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(15))
            var done: [TaskRecord] = []
            while clock.now < deadline {
                done = try await env.queue.tasks(TaskQuery(status: .completed, type: "noop")).tasks
                if done.count >= 3 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await worker.stop()
            #expect(done.count >= 3)
            #expect(done.allSatisfy { $0.schedule == "every-second" })
            for task in done { #expect(log.successCount(task.id) == 1) }

            var changed = declared
            changed.priority = .high
            #expect(try await env.queue.declareSchedule(changed))
            #expect(try await env.queue.schedule(named: "every-second")?.schedule.priority == .high)
        }
    }
    @Test func aScheduledTaskRunsWithItsTypesTimeoutAndRetry() async throws {
        try await TestEnvironment.with { env in
            // The definition's attempts travel with the task; its timeout and retry strategy apply
            // in the worker that registered it, for a schedule's tasks as for any other.
            let definition = TaskDefinition<SlowPayload>(
                "report.slow", maxAttempts: 2, retry: .fixed(.milliseconds(50)), timeout: .milliseconds(100))
            let registry = TaskHandlerRegistry()
            try registry.register(definition) { payload, _ in try await Task.sleep(for: .milliseconds(payload.ms)) }
            var configuration = env.workerConfiguration(retry: .noRetry)
            configuration.schedules = [
                try Schedule("slow-report", cron: "@every 1s", definition: definition, payload: SlowPayload(ms: 2000))
            ]
            let worker = env.startWorker(registry, configuration: configuration)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(15))
            var failed: [TaskRecord] = []
            while clock.now < deadline {
                failed = try await env.queue.tasks(TaskQuery(status: .failed, type: "report.slow")).tasks
                if !failed.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await worker.stop()
            let task = try #require(failed.first)
            #expect(task.schedule == "slow-report")
            #expect(task.maxAttempts == 2)
            #expect(task.attempts == 2)  // the definition's retry, not the worker's noRetry
            let attempts = try await env.queue.executions(of: task.id)
            #expect(attempts.count == 2)
            // Each attempt stopped at the definition's 100 ms timeout, not the handler's 2 s (an
            // attempt that ran the handler out cannot be shorter; a loaded machine may take a while
            // to record one that was cut off).
            #expect(attempts.allSatisfy { ($0.durationMilliseconds ?? 0) < 2000 })
            #expect(attempts.allSatisfy { $0.error?.contains("timed out") == true })
        }
    }

    @Test func thePrunerKeepsRecentFiresAndEachSchedulesLastTen() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.createSchedule(try Schedule("busy", cron: "@hourly", type: "noop"))
            try await env.queue.createSchedule(try Schedule("quiet", cron: "@hourly", type: "noop"))
            _ = try await env.queue.pool.withSession { session in
                try session.execute(
                    """
                    INSERT INTO schedule_fires (schedule, fire_at, task_id)
                    SELECT 'busy', now() - n * interval '1 day', gen_random_uuid() FROM generate_series(1, 25) n
                    UNION ALL SELECT 'busy', now() - n * interval '1 second', gen_random_uuid() FROM generate_series(1, 2) n
                    UNION ALL SELECT 'quiet', now() - n * interval '1 day', gen_random_uuid() FROM generate_series(10, 12) n
                    """)
            }
            // Completed tasks kept 6.5 days: busy's fires older than that and older than its 10
            // newest go (days 9-25); quiet keeps its 3 old ones, its last.
            _ = try await env.queue.store.prune([(.completed, .seconds(6 * 86_400 + 43_200))], batchSize: 4, maxBatches: 100)
            let left = try await env.queue.pool.withSession { session in
                try session.execute(
                    "SELECT schedule, count(*) AS n, max(now() - fire_at)::text AS oldest FROM schedule_fires GROUP BY schedule ORDER BY schedule")
            }
            #expect(try left.rows.map { try $0.string("schedule") } == ["busy", "quiet"])
            #expect(try left.rows[0].int("n") == 10)
            #expect(try left.rows[0].string("oldest").hasPrefix("8 days"))
            #expect(try left.rows[1].int("n") == 3)
        }
    }
}
