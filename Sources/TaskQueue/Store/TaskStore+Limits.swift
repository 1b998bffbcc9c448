import Foundation

/// Fleet-wide limits per task type (migration 012): storing them, and what workers read of them.
/// The claim enforces them (`TaskStore+Attempts`); releases find room for held tasks
/// (`TaskStore+Pauses`).
extension TaskStore {
    private static let limitStateColumns = """
        l.type, l.concurrency, l.rate_count, l.rate_per_seconds, l.updated_at,
        (SELECT count(*) FROM tasks r WHERE r.status = 'running' AND r.type = l.type) AS running,
        CASE WHEN l.rate_count IS NULL THEN NULL
             ELSE (SELECT count(*) FROM task_type_starts s WHERE s.type = l.type AND s.started_at > now() - l.rate_per_seconds * interval '1 second')
        END AS started_in_window,
        (SELECT count(*) FROM tasks h WHERE h.held_at IS NOT NULL AND h.type = l.type) AS held
        """

    /// The limits of `type`, with what they bound now; nil when it has none.
    func limitState(_ type: String) async throws -> TaskTypeLimitState? {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT \(Self.limitStateColumns) FROM task_type_limits l WHERE l.type = $1", [type])
        }
        return try rows.rows.first.map(Self.limitState(row:))
    }

    /// Every type's limits, by type name.
    func limitStates() async throws -> [TaskTypeLimitState] {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT \(Self.limitStateColumns) FROM task_type_limits l ORDER BY l.type")
        }
        return try rows.rows.map(Self.limitState(row:))
    }

    private static func limitState(row: PostgresRow) throws -> TaskTypeLimitState {
        let rateCount = try row.optionalString("rate_count").flatMap { Int($0) }
        let ratePer = try row.optionalString("rate_per_seconds").flatMap { Int($0) }
        return TaskTypeLimitState(
            type: try row.string("type"),
            limits: TaskTypeLimits(
                concurrency: try row.optionalString("concurrency").flatMap { Int($0) },
                rate: rateCount.flatMap { count in ratePer.map { TaskTypeLimits.Rate(count: count, per: .seconds($0)) } }),
            running: try row.int("running"),
            startedInWindow: try row.optionalString("started_in_window").flatMap { Int($0) },
            held: try row.int("held"),
            updatedAt: try row.date("updated_at"))
    }

    /// Sets `type`'s limits (replacing any); returns them with what they bound now.
    func setLimits(_ limits: TaskTypeLimits, for type: String) async throws -> TaskTypeLimitState {
        try await pool.withSession { session in
            try session.execute(
                """
                INSERT INTO task_type_limits AS l (type, concurrency, rate_count, rate_per_seconds)
                VALUES ($1, $2::int, $3::int, $4::int)
                ON CONFLICT (type) DO UPDATE
                    SET concurrency = excluded.concurrency, rate_count = excluded.rate_count,
                        rate_per_seconds = excluded.rate_per_seconds, updated_at = now()
                """, [type, limits.concurrency, limits.rate?.count, limits.rate?.seconds])
        }
        if limits.concurrency != nil { try await countRunning(of: [type]) }
        guard let state = try await limitState(type) else {
            throw TaskQueueError(.invalidState, "the limits of \(type) were removed as they were set")
        }
        return state
    }

    /// Applies limits declared in code: a type's declaration is written when it has no limits or
    /// when code declared something else last time, so a change made at run time survives a
    /// restart with the same code. Returns the types whose limits it wrote.
    @discardableResult
    func declareLimits(_ declared: [String: TaskTypeLimits]) async throws -> [String] {
        guard !declared.isEmpty else { return [] }
        let entries = declared.sorted { $0.key < $1.key }
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                INSERT INTO task_type_limits AS l (type, concurrency, rate_count, rate_per_seconds, declared)
                SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::text[])
                ON CONFLICT (type) DO UPDATE
                    SET concurrency = excluded.concurrency, rate_count = excluded.rate_count,
                        rate_per_seconds = excluded.rate_per_seconds, declared = excluded.declared, updated_at = now()
                    WHERE l.declared IS DISTINCT FROM excluded.declared
                RETURNING l.type
                """,
                [
                    PostgresArray(entries.map(\.key)), PostgresArray(entries.map(\.value.concurrency)),
                    PostgresArray(entries.map(\.value.rate?.count)), PostgresArray(entries.map(\.value.rate?.seconds)),
                    PostgresArray(entries.map(\.value.declaration)),
                ])
        }
        let written = try rows.rows.map { try $0.string("type") }
        try await countRunning(of: written.filter { declared[$0]?.concurrency != nil })
        return written
    }

    /// Adds the running tasks of these types that the limited claim does not count yet: claimed
    /// before the type had a limit, or by a worker that had not yet read it (workers read which
    /// types have limits every second, and each calls this every few seconds). A scan of the
    /// running tasks, so not on any claim's path.
    func countRunning(of types: [String]) async throws {
        guard !types.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute(
                """
                INSERT INTO task_type_running (task_id, type)
                SELECT id, type FROM tasks
                WHERE status = 'running' AND type = ANY($1::text[])
                  AND type IN (SELECT type FROM task_type_limits WHERE concurrency IS NOT NULL)
                ON CONFLICT (task_id) DO NOTHING
                """, [PostgresArray(types)])
        }
    }

    /// Lifts `type`'s limits and forgets its recorded starts and running tasks; false when it had none. Its held
    /// tasks are released by the caller.
    func removeLimits(for type: String) async throws -> Bool {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH lifted AS (DELETE FROM task_type_limits WHERE type = $1 RETURNING type),
                forgotten AS (DELETE FROM task_type_starts WHERE type = $1),
                untracked AS (DELETE FROM task_type_running WHERE type = $1)
                SELECT type FROM lifted
                """, [type])
        }
        return !rows.rows.isEmpty
    }

    /// What workers follow every second: the pauses and the types with limits, in one statement.
    func controls() async throws -> (pauses: TaskPauses, limitedTypes: Set<String>) {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT kind, name FROM task_pauses UNION ALL SELECT 'limit', type FROM task_type_limits")
        }
        var pauses = TaskPauses()
        var limited: Set<String> = []
        for row in rows.rows {
            let name = try row.string("name")
            switch try row.string("kind") {
            case "priority": if let priority = TaskPriority(rawValue: name) { pauses.priorities.insert(priority) }
            case "type": pauses.types.insert(name)
            default: limited.insert(name)
            }
        }
        return (pauses, limited)
    }

    /// The tasks `workerID` runs whose cancel was asked for (a partial index holds only those).
    func cancelRequests(workerID: String) async throws -> [UUID] {
        let rows = try await pool.withSession { session in
            try session.execute(
                "SELECT id FROM tasks WHERE cancel_requested_at IS NOT NULL AND status = 'running' AND lease_owner = $1", [workerID])
        }
        return try rows.rows.map { try $0.uuid("id") }
    }
}
