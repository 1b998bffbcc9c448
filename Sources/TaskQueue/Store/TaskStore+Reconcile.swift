import Foundation

/// The reconciler's scans for tasks whose message may be missing, and what it records about them.
extension TaskStore {
    /// Queued or retrying tasks with no publish recorded: those whose publish failed once older than
    /// `grace`, and, when `confirmAfter` is given, the others (most likely a backlog no worker has
    /// claimed yet) once older than it.
    ///
    /// The second scan walks `tasks_unpublished_idx` from its oldest entry. Every task gets an entry
    /// there when it is enqueued, dead once a claim records the publish; while one transaction stays
    /// open anywhere in the database, vacuum can remove none of them, and the scan visits each (a
    /// 10-minute transaction at 3,000 tasks/s: 1.8 million heap visits per scan). The reconciler
    /// runs it when it has the fleet's turn (`takeTurn(.unconfirmed, ...)`), not on every pass.
    func unpublished(olderThan grace: Duration, confirmAfter: Duration?, limit: Int) async throws -> [PublishTarget] {
        let flagged = """
            SELECT id, priority, publish_generation FROM tasks
            WHERE publish_failed_at IS NOT NULL AND published_at IS NULL AND status IN ('queued', 'retrying')
              AND held_at IS NULL AND updated_at < now() - $1 * interval '1 millisecond'
            ORDER BY updated_at LIMIT $2
            """
        let rows = try await pool.withSession { session in
            guard let confirmAfter else { return try session.execute(flagged, [Int(grace.milliseconds), limit]) }
            // Two index range scans: a backlog of young unflagged tasks costs nothing to skip.
            return try session.execute(
                """
                (\(flagged))
                UNION
                (SELECT id, priority, publish_generation FROM tasks
                 WHERE published_at IS NULL AND status IN ('queued', 'retrying') AND held_at IS NULL
                   AND created_at < now() - $3 * interval '1 millisecond'
                 ORDER BY created_at LIMIT $2)
                LIMIT $2
                """, [Int(grace.milliseconds), limit, Int(confirmAfter.milliseconds)])
        }
        return try rows.rows.map(PublishTarget.init(row:))
    }

    /// The reconciler's scans that take turns across the fleet (`reconciler_turns`, migration 009).
    enum Scan: String {
        /// `suspectedLost`: every published, unfinished task.
        case lost
        /// `unpublished` with `confirmAfter`: every unconfirmed task.
        case unconfirmed
    }

    /// A scan that took longer than this waits `slowScanStretch` times as long as it took before
    /// its next turn, so it keeps PostgreSQL busy at most about 2% of the time.
    static let slowScan: Duration = .milliseconds(100)
    static let slowScanStretch = 50

    /// Takes the fleet's turn at `scan`: true (and the turn is this caller's) when the last turn
    /// started at least `interval` ago and, if that scan was slow, its stretched wait has passed.
    /// A caller that dies during its turn leaves the next one to whoever comes after the wait.
    func takeTurn(_ scan: Scan, every interval: Duration) async throws -> Bool {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                UPDATE reconciler_turns SET started_at = now()
                WHERE scan = $1
                  AND started_at + greatest(
                      $2 * interval '1 millisecond',
                      CASE WHEN took > $3 * interval '1 millisecond' THEN took * $4 ELSE interval '0' END
                  ) <= now()
                RETURNING scan
                """, [scan.rawValue, Int(interval.milliseconds), Int(Self.slowScan.milliseconds), Self.slowScanStretch])
        }
        return !rows.rows.isEmpty
    }

    /// Records how long this caller's turn at `scan` took, which sets the wait before the next.
    func recordTurn(_ scan: Scan, took: Duration) async throws {
        try await pool.withSession { session in
            try session.execute(
                "UPDATE reconciler_turns SET took = $2 * interval '1 millisecond' WHERE scan = $1", [scan.rawValue, Int(took.milliseconds)])
        }
    }

    /// Moves due scheduled tasks to queued (unpublished) and returns them for publishing.
    func promoteDueScheduled(limit: Int) async throws -> [PublishTarget] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                UPDATE tasks t SET status = 'queued', published_at = NULL, updated_at = now(), version = t.version + 1
                WHERE t.id IN (
                    SELECT id FROM tasks WHERE status = 'scheduled' AND run_at <= now()
                    ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED
                )
                RETURNING t.id, t.priority, t.publish_generation
                """, [limit])
        }
        return try rows.rows.map(PublishTarget.init(row:))
    }

    /// Published, unfinished tasks that have shown no progress for `quiet` (running ones only once
    /// their lease has expired), not verified in the stream during that time either.
    func suspectedLost(quiet: Duration, limit: Int) async throws -> [SuspectTask] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT id, priority, publish_generation, published_seq FROM tasks
                WHERE status IN ('queued', 'running', 'retrying') AND published_at IS NOT NULL
                  AND greatest(updated_at, run_at, coalesce(verified_at, updated_at)) < now() - $1 * interval '1 millisecond'
                  AND (status <> 'running' OR lease_expires_at < now())
                ORDER BY updated_at LIMIT $2
                """, [Int(quiet.milliseconds), limit])
        }
        return try rows.rows.map { row in
            SuspectTask(
                target: try PublishTarget(row: row),
                sequence: try row.optionalString("published_seq").flatMap { Int64($0) }.map { UInt64(bitPattern: $0) }
            )
        }
    }

    func markVerified(_ ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET verified_at = now() FROM locked WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id
                """, [PostgresArray(ids)])
        }
    }

    /// Starts a new message generation for tasks whose message is gone; returns those still in the
    /// same generation (another reconciler may have done it already).
    func bumpGeneration(_ targets: [PublishTarget]) async throws -> [PublishTarget] {
        guard !targets.isEmpty else { return [] }
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]", columns: "status, publish_generation"))
                UPDATE tasks t SET publish_generation = t.publish_generation + 1, published_at = NULL, published_seq = NULL
                FROM unnest($1::uuid[], $2::int[]) AS g(id, generation), locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = g.id AND locked.id = g.id AND locked.publish_generation = g.generation
                  AND locked.status IN ('queued', 'running', 'retrying')
                RETURNING t.id, t.priority, t.publish_generation
                """, [PostgresArray(targets.map(\.taskID)), PostgresArray(targets.map(\.generation))])
        }
        return try rows.rows.map(PublishTarget.init(row:))
    }

    /// Failed tasks whose dead letter was never published.
    func pendingDeadLetters(olderThan grace: Duration, limit: Int) async throws -> [TaskRecord] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT \(Self.taskColumns) FROM tasks t
                WHERE t.status = 'failed' AND t.dead_lettered_at IS NULL
                  AND t.finished_at < now() - $1 * interval '1 millisecond'
                ORDER BY t.finished_at LIMIT $2
                """, [Int(grace.milliseconds), limit])
        }
        return try TaskRecord.all(in: rows)
    }
}
