import Foundation

/// A worker's statements: claiming tasks, finishing attempts, renewing leases, marking dead letters.
extension TaskStore {
    /// Claims the due tasks among `ids` for `workerID` in one statement: from queued, retrying or a
    /// due scheduled task, or from running when the lease has expired (the previous worker died,
    /// and its open attempt is closed as failed). Unclaimed ids come back with why.
    /// `sequences` gives the stream sequence of the message each id arrived in: a claim is the
    /// first proof that an enqueued task's message reached the stream, so it records where.
    ///
    /// With `holdingPausedTypes` (some type is paused, as far as the worker knows) the statement
    /// also reads `task_pauses`: a task of a paused type is held instead of claimed (no attempt,
    /// `held_at` set, its publish forgotten) until the type is resumed. Without it the statement
    /// is the one with no pause check, the usual hot path.
    func claim(
        _ ids: [UUID], sequences: [UInt64]? = nil, workerID: String, lease: Duration, holdingPausedTypes: Bool = false
    ) async throws -> [UUID: ClaimOutcome] {
        guard !ids.isEmpty else { return [:] }
        let sequences = sequences.flatMap { $0.count == ids.count ? $0 : nil } ?? ids.map { _ in UInt64(0) }
        let input = zip(ids, sequences).sorted { UUID.postgresOrder($0.0, $1.0) }
        let rows = try await pool.withSession { session in
            try session.execute(
                holdingPausedTypes ? Self.claimHoldingPausedSQL : Self.claimSQL,
                [
                    PostgresArray(input.map(\.0)), workerID, Int(lease.milliseconds),
                    PostgresArray(input.map { Int64(bitPattern: $0.1) }),
                ])
        }
        var outcomes: [UUID: ClaimOutcome] = [:]
        outcomes.reserveCapacity(ids.count)
        if let first = rows.rows.first {
            let columns = try TaskRecordColumns(first)
            let outcomeColumn = try first.position("outcome")
            let dueInColumn = try first.position("due_in_ms")
            let leaseLeftColumn = try first.position("lease_left_ms")
            for row in rows.rows {
                let task = try TaskRecord(row: row, columns: columns)
                // Remaining times come from the database clock, the one leases and run_at are set by.
                let dueIn = try row.double(at: dueInColumn) ?? 0
                let leaseLeft = try row.double(at: leaseLeftColumn) ?? 0
                let outcome = try row.string(at: outcomeColumn)
                if outcome == "claimed" {
                    outcomes[task.id] = .claimed(task)
                } else if outcome == "held" {
                    outcomes[task.id] = .held
                } else if task.status.isTerminal {
                    outcomes[task.id] = .finished(task.status)
                } else if task.status == .running, leaseLeft > 0 {
                    outcomes[task.id] = .leased(.milliseconds(Int64(leaseLeft.rounded(.up))))
                } else if task.status != .running, dueIn > 0 {
                    outcomes[task.id] = .notDue(.milliseconds(Int64(dueIn.rounded(.up))))
                } else {
                    // Due and live but not ours: another worker claimed it in the same instant.
                    outcomes[task.id] = .heldElsewhere
                }
            }
        }
        for id in ids where outcomes[id] == nil { outcomes[id] = .unknown }
        return outcomes
    }

    /// Whether a task may be claimed now, judged on the row version the claim locked.
    static let claimable = """
        run_at <= now() AND (status IN ('queued', 'retrying', 'scheduled') OR (status = 'running' AND lease_expires_at < now()))
        """

    // The claim joins `tasks` with `locked` alone, which PostgreSQL does as a hash join. Joined
    // with the input ids as well (for their stream sequences), it chose nested loops that read
    // `locked` once per task and evaluated the claim conditions on every pair: a third of the
    // statement's time at 33 tasks, growing with the square of the batch. The sequence is looked
    // up in its array instead, and the conditions are evaluated once per task, as `claimable`.
    static let claimSQL = claimStatement(holdingPausedTypes: false)
    static let claimHoldingPausedSQL = claimStatement(holdingPausedTypes: true)

    private static func claimStatement(holdingPausedTypes: Bool) -> String {
        // A paused type holds tasks that wait (queued, retrying, due scheduled); a takeover of an
        // expired lease goes ahead (that attempt started before the pause).
        let pausedColumn =
            holdingPausedTypes ? ", (status <> 'running' AND type IN (SELECT name FROM task_pauses WHERE kind = 'type')) AS paused" : ""
        let notPaused = holdingPausedTypes ? " AND NOT locked.paused" : ""
        let held =
            holdingPausedTypes
            ? """
            ,
            held AS (
                UPDATE tasks t SET held_at = now(), published_at = NULL, published_seq = NULL, updated_at = now()
                FROM locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.claimable AND locked.paused
                RETURNING t.id
            )
            """
            : ""
        let skippedOutcome = holdingPausedTypes ? "CASE WHEN t.id IN (SELECT id FROM held) THEN 'held' ELSE 'skipped' END" : "'skipped'"
        return """
            WITH \(lockInIDOrder("$1::uuid[]", columns: "status, lease_owner, attempts, attempt_started_at, \(claimable) AS claimable\(pausedColumn)")),
            claimed AS (
                UPDATE tasks t
                SET status = 'running', attempts = t.attempts + 1, lease_owner = $2,
                    lease_expires_at = now() + $3 * interval '1 millisecond',
                    started_at = coalesce(t.started_at, now()), attempt_started_at = now(),
                    updated_at = now(), version = t.version + 1,
                    published_at = coalesce(t.published_at, now()),
                    published_seq = coalesce(t.published_seq, nullif(($4::int8[])[array_position($1::uuid[], t.id)], 0))
                FROM locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.claimable\(notPaused)
                RETURNING \(taskColumns), locked.status AS previous_status, locked.lease_owner AS previous_owner,
                          locked.attempts AS previous_attempt, locked.attempt_started_at AS previous_started_at
            ),
            abandoned AS (
                -- A task taken over from an expired lease: its attempt ended without an outcome and is
                -- recorded here as failed. An attempt claimed before migration 006 has its open row
                -- already; that row is closed instead.
                INSERT INTO task_executions AS e (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
                SELECT id, previous_attempt, 'failed',
                       'attempt abandoned: worker ' || coalesce(previous_owner, 'unknown') || ' stopped without finishing (lease expired)',
                       coalesce(previous_owner, 'unknown'), coalesce(previous_started_at, now()), now(),
                       coalesce(extract(epoch FROM now() - previous_started_at) * 1000, 0)
                FROM claimed WHERE previous_status = 'running'
                ON CONFLICT (task_id, attempt) DO UPDATE
                    SET status = 'failed', error = excluded.error, finished_at = now(),
                        duration_ms = extract(epoch FROM now() - e.started_at) * 1000
                    WHERE e.status = 'started'
            )\(held)
            SELECT 'claimed' AS outcome, c.id, c.type, c.payload, c.priority, c.status, c.attempts, c.max_attempts,
                   c.attempt_base, c.run_at, c.idempotency_key, c.last_error, c.lease_owner, c.lease_expires_at,
                   c.published_at, c.publish_failed_at, c.created_at, c.updated_at, c.started_at, c.finished_at, c.schedule,
                   0::float8 AS due_in_ms, 0::float8 AS lease_left_ms
            FROM claimed c
            UNION ALL
            SELECT \(skippedOutcome), \(taskColumns),
                   extract(epoch FROM t.run_at - now()) * 1000,
                   coalesce(extract(epoch FROM t.lease_expires_at - now()) * 1000, 0)
            FROM tasks t
            -- The ids left over are gathered first: when every task was claimed (the usual case) the
            -- scan has no key to look up instead of reading every task again to filter it out.
            WHERE t.id = ANY(ARRAY(SELECT id FROM unnest($1::uuid[]) AS i(id) WHERE id NOT IN (SELECT id FROM claimed)))
            """
    }

    /// Applies attempt outcomes in one statement. Only the current attempt of a running task may
    /// finish it; returns the ids of the tasks that were updated (a stale attempt is left out).
    func finish(_ outcomes: [AttemptOutcome]) async throws -> Set<UUID> {
        guard !outcomes.isEmpty else { return [] }
        let outcomes = outcomes.sorted { UUID.postgresOrder($0.taskID, $1.taskID) }
        let parameters: [any PostgresEncodable] = [
            PostgresArray(outcomes.map(\.taskID)),
            PostgresArray(outcomes.map(\.attempt)),
            PostgresArray(outcomes.map(\.status.rawValue)),
            PostgresArray(outcomes.map(\.error)),
            PostgresArray(outcomes.map { $0.retryDelay.map { Double($0.milliseconds) } ?? 0 }),
        ]
        let rows = try await pool.withSession { session in
            do {
                return try session.execute(Self.finishSQL, parameters)
            } catch let error as TaskQueueError where error.underlyingStatus == "23505" {
                // An attempt of this batch already has an open execution row (it was claimed
                // before migration 006 was last applied): close such rows instead of inserting.
                // Rare, so the usual statement does without ON CONFLICT's per-row cost.
                return try session.execute(Self.finishClosingOpenRowsSQL, parameters)
            }
        }
        return Set(try rows.rows.map { try $0.uuid("id") })
    }

    static let finishSQL = finishStatement(onConflict: "")
    static let finishClosingOpenRowsSQL = finishStatement(
        onConflict: """
            ON CONFLICT (task_id, attempt) DO UPDATE
                SET status = excluded.status, error = excluded.error, finished_at = now(),
                    duration_ms = extract(epoch FROM now() - e.started_at) * 1000
                WHERE e.status = 'started'
            """)

    private static func finishStatement(onConflict: String) -> String {
        """
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::float8[])
                AS i(id, attempt, status, error, delay_ms)
        ),
        \(lockInIDOrder("$1::uuid[]", columns: "status, attempts, lease_owner, attempt_started_at")),
        updated AS (
            UPDATE tasks t
            SET status = i.status, last_error = i.error,
                run_at = CASE WHEN i.status = 'retrying' THEN now() + i.delay_ms * interval '1 millisecond' ELSE t.run_at END,
                finished_at = CASE WHEN i.status IN ('completed', 'failed') THEN now() ELSE NULL END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = now(), version = t.version + 1
            FROM input i JOIN locked ON locked.id = i.id
            WHERE t.id = ANY($1::uuid[]) AND t.id = i.id AND locked.status = 'running' AND locked.attempts = i.attempt
            RETURNING t.id, t.status, t.priority, locked.lease_owner AS owner, locked.attempt_started_at AS attempt_started_at
        ),
        \(counting("updated")),
        recorded AS (
            -- The attempt's execution row, written whole when it ends. Only this update (the
            -- attempt still current) or a takeover of its expired lease writes one, and both hold
            -- the task's row lock; an open row from before migration 006 is the exception (see
            -- `finish`).
            INSERT INTO task_executions AS e (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
            SELECT i.id, i.attempt, CASE WHEN i.status = 'completed' THEN 'succeeded' ELSE 'failed' END,
                   i.error, coalesce(u.owner, 'unknown'), coalesce(u.attempt_started_at, now()),
                   now(), coalesce(extract(epoch FROM now() - u.attempt_started_at) * 1000, 0)
            FROM input i JOIN updated u ON u.id = i.id
            \(onConflict)
        )
        SELECT id FROM updated
        """
    }

    /// Extends the leases of tasks this worker still runs; returns the ids whose lease it still holds.
    func renewLeases(_ ids: [UUID], workerID: String, lease: Duration) async throws -> Set<UUID> {
        guard !ids.isEmpty else { return [] }
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]", columns: "status, lease_owner"))
                UPDATE tasks t SET lease_expires_at = now() + $3 * interval '1 millisecond'
                FROM locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.status = 'running' AND locked.lease_owner = $2
                RETURNING t.id
                """, [PostgresArray(ids), workerID, Int(lease.milliseconds)])
        }
        return Set(try rows.rows.map { try $0.uuid("id") })
    }

    /// Marks dead letters as published.
    func markDeadLettered(_ ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET dead_lettered_at = now() FROM locked WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id
                """, [PostgresArray(ids)])
        }
    }
}
