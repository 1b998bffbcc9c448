import Foundation
import Tracing

/// Schedules (migration 010): saving them, reading them with their fires, and firing the due ones.
extension TaskStore {
    /// How a save treats an existing schedule of the same name.
    enum ScheduleSave {
        /// Insert, or update when anything differs (a declaration in code at worker start).
        case declare
        /// Insert; nothing when the name exists.
        case create
        /// Update the existing one; nothing when there is none.
        case replace
    }

    private static let scheduleColumns = """
        s.name, s.cron, s.timezone, s.type, s.payload::text AS payload, s.priority, s.max_attempts, s.missed, s.paused,
        s.next_fire_at, s.created_at, s.updated_at
        """

    /// The columns a save writes, and the condition that keeps the stored next fire time while the
    /// timing (expression and zone) stays the same.
    private static let scheduleUpdate = """
        cron = $2, timezone = $3, type = $4, payload = $5::jsonb, priority = $6, max_attempts = $7::int, missed = $8,
        next_fire_at = CASE WHEN (s.cron, s.timezone) = ($2, $3) THEN s.next_fire_at ELSE $9::timestamptz END,
        updated_at = now()
        """

    /// Saves `schedule`; true when a row was inserted or changed. Its next fire time is computed
    /// from `now` when it is new or its timing changed.
    func saveSchedule(_ schedule: Schedule, mode: ScheduleSave, now: Date = Date()) async throws -> Bool {
        let next = schedule.cron.nextFire(after: now, in: schedule.timeZone) ?? .distantFuture
        let parameters: [PostgresEncodable?] = [
            schedule.name, schedule.cron.description, schedule.timeZone.identifier, schedule.type, schedule.payloadJSON,
            schedule.priority.rawValue, schedule.maxAttempts, schedule.missed.rawValue, next,
        ]
        let insert = """
            INSERT INTO schedules AS s (name, cron, timezone, type, payload, priority, max_attempts, missed, next_fire_at)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::int, $8, $9::timestamptz)
            """
        let sql: String
        switch mode {
        case .declare:
            sql = """
                \(insert)
                ON CONFLICT (name) DO UPDATE SET \(Self.scheduleUpdate)
                WHERE (s.cron, s.timezone, s.type, s.payload, s.priority, s.max_attempts, s.missed)
                    IS DISTINCT FROM ($2, $3, $4, $5::jsonb, $6, $7::int, $8)
                RETURNING s.name
                """
        case .create:
            sql = "\(insert) ON CONFLICT (name) DO NOTHING RETURNING s.name"
        case .replace:
            sql = "UPDATE schedules s SET \(Self.scheduleUpdate) WHERE s.name = $1 RETURNING s.name"
        }
        let rows = try await pool.withSession { session in try session.execute(sql, parameters) }
        return !rows.rows.isEmpty
    }

    /// One schedule with its last fires; nil when there is none of that name.
    func schedule(named name: String, now: Date = Date()) async throws -> ScheduleRecord? {
        try await schedules(where: "s.name = $1", [name], now: now).first
    }

    /// Every schedule, by name, with its last fires.
    func schedules(now: Date = Date()) async throws -> [ScheduleRecord] {
        try await schedules(where: "true", [], now: now)
    }

    private func schedules(where condition: String, _ parameters: [PostgresEncodable?], now: Date) async throws -> [ScheduleRecord] {
        let (schedules, fires) = try await pool.withSession { session in
            let schedules = try session.execute("SELECT \(Self.scheduleColumns) FROM schedules s WHERE \(condition) ORDER BY s.name", parameters)
            let fires = try session.execute(
                """
                SELECT f.schedule, f.fire_at, f.task_id, f.manual, f.fired_at
                FROM schedules s, LATERAL (
                    SELECT * FROM schedule_fires f WHERE f.schedule = s.name ORDER BY f.fire_at DESC LIMIT \(Self.lastFiresShown)
                ) f
                WHERE \(condition)
                """, parameters)
            return (schedules, fires)
        }
        var firesByName: [String: [ScheduleFire]] = [:]
        for row in fires.rows {
            firesByName[try row.string("schedule"), default: []].append(
                ScheduleFire(
                    fireAt: try row.date("fire_at"), taskID: try row.uuid("task_id"), manual: try row.string("manual") == "t",
                    firedAt: try row.date("fired_at")))
        }
        return try schedules.rows.map { row in
            let name = try row.string("name")
            let schedule = try Self.schedule(row: row)
            let paused = try row.string("paused") == "t"
            // The stored next fire time may be a moment in the past (due, not yet fired).
            let stored = try row.date("next_fire_at")
            let nextFires = paused ? [] : [stored] + schedule.cron.nextFires(after: max(stored, now), in: schedule.timeZone, count: 4)
            return ScheduleRecord(
                schedule: schedule, paused: paused, nextFires: nextFires,
                lastFires: (firesByName[name] ?? []).sorted { $0.fireAt > $1.fireAt },
                createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
        }
    }

    /// How many of a schedule's fires reads show.
    static let lastFiresShown = 10

    private static func schedule(row: PostgresRow) throws -> Schedule {
        let name = try row.string("name")
        do {
            return try Schedule(
                name, cron: try row.string("cron"), timeZone: try row.string("timezone"), type: try row.string("type"),
                payloadJSON: try row.string("payload"), priority: TaskPriority(rawValue: try row.string("priority")) ?? .normal,
                maxAttempts: try row.optionalString("max_attempts").flatMap { Int($0) },
                missed: MissedFirePolicy(rawValue: try row.string("missed")) ?? .skip)
        } catch let error as TaskQueueError {
            throw TaskQueueError(.databaseError, "schedule \(name) as stored is not valid: \(error.message)")
        }
    }

    /// Deletes a schedule and its fire records; false when there was none. Tasks it created stay.
    func deleteSchedule(named name: String) async throws -> Bool {
        let rows = try await pool.withSession { session in
            try session.execute("DELETE FROM schedules WHERE name = $1 RETURNING name", [name])
        }
        return !rows.rows.isEmpty
    }

    /// Pauses or resumes a schedule; false when there is none of that name. Resuming starts from
    /// the next fire time after `now`: what a paused schedule did not fire is not caught up.
    func setSchedulePaused(_ name: String, paused: Bool, now: Date = Date()) async throws -> Bool {
        try await pool.withSession { session in
            try session.transaction {
                let rows = try session.execute("SELECT \(Self.scheduleColumns) FROM schedules s WHERE s.name = $1 FOR UPDATE", [name])
                guard let row = rows.rows.first else { return false }
                let schedule = try Self.schedule(row: row)
                let next = schedule.cron.nextFire(after: now, in: schedule.timeZone) ?? .distantFuture
                try session.execute(
                    """
                    UPDATE schedules SET paused = $2::boolean, updated_at = now(),
                        next_fire_at = CASE WHEN paused AND NOT $2::boolean THEN $3::timestamptz ELSE next_fire_at END
                    WHERE name = $1
                    """, [name, paused ? "true" : "false", next])
                return true
            }
        }
    }

    /// Enqueues one task of the schedule now, by hand, recorded among its fires; nil when there is
    /// no schedule of that name. Paused schedules can be triggered too.
    func triggerSchedule(named name: String, defaultMaxAttempts: Int, tracer: (any Tracer)? = nil) async throws -> (TaskRecord, PublishTarget)? {
        // Read here: the session's closure runs on the connection's thread, outside this task.
        let parent = ServiceContext.current ?? .topLevel
        return try await pool.withSession { session in
            try session.transaction {
                let rows = try session.execute("SELECT \(Self.scheduleColumns) FROM schedules s WHERE s.name = $1 FOR SHARE", [name])
                guard let row = rows.rows.first else { return nil }
                let schedule = try Self.schedule(row: row)
                let fired = try Self.fire(
                    schedule, at: nil, defaultMaxAttempts: defaultMaxAttempts, tracer: tracer, parent: parent, session: session)
                guard let fired else { return nil }
                let task = try TaskRecord(row: try session.execute("SELECT \(Self.taskColumns) FROM tasks t WHERE t.id = $1", [fired.taskID]).rows[0])
                return (task, fired)
            }
        }
    }

    /// Fires the schedules that are due, each in its own transaction with its row locked (a
    /// schedule another worker is firing is skipped); returns the tasks created, to publish.
    ///
    /// Fire times up to `missedAfter` late fire each. Older ones were missed (no worker ran):
    /// `.skip` leaves them out, `.once` fires the first of them as one catch-up run. Each fire's
    /// task and its `schedule_fires` row are inserted together, and a fire already recorded (two
    /// firers racing) creates nothing.
    func fireDueSchedules(limit: Int, missedAfter: Duration, defaultMaxAttempts: Int, tracer: (any Tracer)? = nil) async throws -> [PublishTarget] {
        try await pool.withSession { session in
            var created: [PublishTarget] = []
            // One round trip while nothing is due (every pass of every worker, twice a second).
            let due = try session.execute("SELECT 1 FROM schedules WHERE NOT paused AND next_fire_at <= now() LIMIT 1")
            guard !due.rows.isEmpty else { return created }
            for _ in 0..<limit {
                let fired: [PublishTarget]? = try session.transaction {
                    let rows = try session.execute(
                        """
                        SELECT \(Self.scheduleColumns), now() AS now FROM schedules s
                        WHERE NOT s.paused AND s.next_fire_at <= now()
                        ORDER BY s.next_fire_at LIMIT 1 FOR UPDATE SKIP LOCKED
                        """)
                    guard let row = rows.rows.first else { return nil }
                    let name = try row.string("name")
                    let now = try row.date("now")
                    let stored = try row.date("next_fire_at")
                    let schedule: Schedule
                    do {
                        schedule = try Self.schedule(row: row)
                    } catch {
                        // Not fireable as stored (changed by hand in SQL): pause it rather than retry forever.
                        try session.execute("UPDATE schedules SET paused = true, updated_at = now() WHERE name = $1", [name])
                        return []
                    }
                    var fires: [Date] = []
                    var next = stored
                    if now.timeIntervalSince(stored) > missedAfter.seconds {
                        if schedule.missed == .once { fires.append(stored) }
                        next = schedule.cron.nextFire(after: now.addingTimeInterval(-missedAfter.seconds), in: schedule.timeZone) ?? .distantFuture
                    }
                    while next <= now {
                        fires.append(next)
                        next = schedule.cron.nextFire(after: next, in: schedule.timeZone) ?? .distantFuture
                    }
                    var targets: [PublishTarget] = []
                    for fire in fires {
                        if let target = try Self.fire(
                            schedule, at: fire, defaultMaxAttempts: defaultMaxAttempts, tracer: tracer, parent: .topLevel, session: session)
                        {
                            targets.append(target)
                        }
                    }
                    try session.execute("UPDATE schedules SET next_fire_at = $2 WHERE name = $1", [name, next])
                    return targets
                }
                guard let fired else { break }
                created += fired
            }
            return created
        }
    }

    /// Records one fire and inserts its task in the caller's transaction; nil when the fire was
    /// recorded already. `at` nil is a manual trigger, recorded at the transaction's time.
    private static func fire(
        _ schedule: Schedule, at fireTime: Date?, defaultMaxAttempts: Int, tracer: (any Tracer)?, parent: ServiceContext,
        session: PostgresSession
    ) throws -> PublishTarget? {
        try TaskTracing.fire(schedule, at: fireTime, tracer: tracer, parent: parent) { trace in
            try insertFire(schedule, at: fireTime, defaultMaxAttempts: defaultMaxAttempts, trace: trace, session: session)
        }
    }

    private static func insertFire(
        _ schedule: Schedule, at fireTime: Date?, defaultMaxAttempts: Int, trace: TaskTrace?, session: PostgresSession
    ) throws -> PublishTarget? {
        let id = UUID.timeOrdered(count: 1)[0]
        let rows = try session.execute(
            """
            WITH fire AS (
                INSERT INTO schedule_fires (schedule, fire_at, task_id, manual)
                VALUES ($1, coalesce($2::timestamptz, now()), $3, $2::timestamptz IS NULL)
                ON CONFLICT (schedule, fire_at) DO NOTHING
                RETURNING task_id
            )
            INSERT INTO tasks (id, type, payload, priority, status, max_attempts, run_at, schedule, trace_context)
            SELECT task_id, $4, $5::jsonb, $6, 'queued', $7, now(), $1, $8::jsonb FROM fire
            RETURNING id, priority, publish_generation
            """,
            [
                schedule.name, fireTime, id, schedule.type, schedule.payloadJSON, schedule.priority.rawValue,
                schedule.maxAttempts ?? defaultMaxAttempts, trace?.stored,
            ])
        return try rows.rows.first.map { row in
            var target = try PublishTarget(row: row)
            target.trace = trace
            return target
        }
    }
}
