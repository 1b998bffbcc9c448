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
    /// `held_at` set, its publish forgotten) until the type is resumed. With `limited` (some type
    /// has a fleet-wide limit) the statement leaves the tasks of limited types aside, and only
    /// those go through a second, limited claim: a transaction that locks their types' limits and
    /// holds a task over its type's limit the same way until a release finds room for it. A batch
    /// with no task of a limited type thus costs one statement, as without limits.
    func claim(
        _ ids: [UUID], sequences: [UInt64]? = nil, workerID: String, lease: Duration, holdingPausedTypes: Bool = false,
        limited: Bool = false
    ) async throws -> [UUID: ClaimOutcome] {
        guard !ids.isEmpty else { return [:] }
        let sequences = sequences.flatMap { $0.count == ids.count ? $0 : nil } ?? ids.map { _ in UInt64(0) }
        let input = zip(ids, sequences).sorted { UUID.postgresOrder($0.0, $1.0) }
        let parameters: [any PostgresEncodable] = [
            PostgresArray(input.map(\.0)), workerID, Int(lease.milliseconds),
            PostgresArray(input.map { Int64(bitPattern: $0.1) }),
        ]
        let paused = holdingPausedTypes
        var outcomes = try await pool.withSession { session in
            try Self.claimOutcomes(session.execute(Self.claimSQL(paused: paused, limits: limited ? .deferred : .none), parameters))
        }
        let deferred = input.filter { outcomes[$0.0] == .limited }
        if !deferred.isEmpty {
            let limitedParameters: [any PostgresEncodable] = [
                PostgresArray(deferred.map(\.0)), workerID, Int(lease.milliseconds),
                PostgresArray(deferred.map { Int64(bitPattern: $0.1) }),
            ]
            // The first statement's claims are committed and will run: a failure here leaves only
            // the deferred ids `limited`, which the worker returns to the stream for a later try.
            if let limitedOutcomes = try? await pool.withSession({ session in
                try session.transaction {
                    // Claims of one limited type take turns here; the claim's own statement then
                    // starts after the previous one committed, and counts what it claimed.
                    let locked = try session.execute(Self.lockLimitsSQL, [limitedParameters[0]])
                    // Limits lifted meanwhile: an ordinary claim.
                    let mode: LimitMode = locked.rows.isEmpty ? .none : .enforced
                    return try Self.claimOutcomes(session.execute(Self.claimSQL(paused: paused, limits: mode), limitedParameters))
                }
            }) {
                outcomes.merge(limitedOutcomes) { _, limited in limited }
            }
        }
        for id in ids where outcomes[id] == nil { outcomes[id] = .unknown }
        return outcomes
    }

    /// What a claim statement's rows say about each id.
    private static func claimOutcomes(_ rows: PostgresRows) throws -> [UUID: ClaimOutcome] {
        var outcomes: [UUID: ClaimOutcome] = [:]
        outcomes.reserveCapacity(rows.rows.count)
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
                } else if outcome == "limited" {
                    outcomes[task.id] = .limited
                } else if task.status.isTerminal {
                    outcomes[task.id] = .finished(task.status)
                } else if task.status == .running, leaseLeft > 0 {
                    outcomes[task.id] = .leased(.milliseconds(Int64(leaseLeft.rounded(.up))))
                } else if task.status == .running, task.cancelRequestedAt != nil {
                    // Its worker stopped before acting on a cancel request: cancelled, not run again.
                    outcomes[task.id] = .cancelAbandoned
                } else if task.status != .running, dueIn > 0 {
                    outcomes[task.id] = .notDue(.milliseconds(Int64(dueIn.rounded(.up))))
                } else {
                    // Due and live but not ours: another worker claimed it in the same instant.
                    outcomes[task.id] = .heldElsewhere
                }
            }
        }
        return outcomes
    }

    /// Whether a task may be claimed now, judged on the row version the claim locked. A running
    /// task whose cancel was asked for is never taken over: its worker died, and it ends cancelled
    /// (see ``cancelAbandoned(_:)``).
    static let claimable = """
        run_at <= now() AND (status IN ('queued', 'retrying', 'scheduled') OR (status = 'running' AND lease_expires_at < now() AND cancel_requested_at IS NULL))
        """

    // The claim joins `tasks` with `locked` alone, which PostgreSQL does as a hash join. Joined
    // with the input ids as well (for their stream sequences), it chose nested loops that read
    // `locked` once per task and evaluated the claim conditions on every pair: a third of the
    // statement's time at 33 tasks, growing with the square of the batch. The sequence is looked
    // up in its array instead, and the conditions are evaluated once per task, as `claimable`.
    static let claimSQL = claimStatement(holdingPausedTypes: false, limits: .none)

    /// How a claim statement treats fleet-wide limits.
    enum LimitMode: CaseIterable {
        /// No type has limits (as far as the worker knows): the usual statement.
        case none
        /// Tasks of limited types are left unclaimed, with the outcome `limited`.
        case deferred
        /// The batch's limits are locked: tasks past them are held.
        case enforced
    }

    private static let claimStatements: [String] = [false, true].flatMap { paused in
        LimitMode.allCases.map { claimStatement(holdingPausedTypes: paused, limits: $0) }
    }

    /// The claim statement for the pauses and limits a worker knows of.
    static func claimSQL(paused: Bool, limits: LimitMode) -> String {
        claimStatements[(paused ? LimitMode.allCases.count : 0) + LimitMode.allCases.firstIndex(of: limits)!]
    }

    /// Locks the limits of the types among a batch's tasks, in type order (every claim takes them
    /// in that order, so two never wait for each other).
    static let lockLimitsSQL = """
        SELECT type FROM task_type_limits WHERE type IN (SELECT type FROM tasks WHERE id = ANY($1::uuid[])) ORDER BY type FOR UPDATE
        """

    private static func claimStatement(holdingPausedTypes: Bool, limits mode: LimitMode) -> String {
        let limited = mode == .enforced
        // Time in the limited claim is the statement's start, after the limits were locked: the
        // recorded starts then follow the order the claims took turns in, which the rate relies on.
        // Elsewhere `now()`, the same instant in a statement of its own.
        let now = limited ? "statement_timestamp()" : "now()"
        // A paused type holds tasks that wait (queued, retrying, due scheduled); a takeover of an
        // expired lease goes ahead (that attempt started before the pause).
        var lockedColumns = "status, lease_owner, attempts, attempt_started_at, \(claimable) AS claimable"
        if holdingPausedTypes {
            lockedColumns += ", (status <> 'running' AND type IN (SELECT name FROM task_pauses WHERE kind = 'type')) AS paused"
        }
        if limited { lockedColumns += ", type" }
        if mode == .deferred { lockedColumns += ", type IN (SELECT type FROM task_type_limits) AS limited" }
        var waiting: [String] = []
        if holdingPausedTypes { waiting.append("locked.paused") }
        if limited { waiting.append("locked.id IN (SELECT id FROM over_limit)") }
        var notWaiting = waiting.isEmpty ? "" : " AND NOT (\(waiting.joined(separator: " OR ")))"
        if mode == .deferred { notWaiting += " AND NOT locked.limited" }
        // Limits: the room each limited type has left (running now, and attempts started within
        // the rate's window), and the tasks of this batch past it, newest first to wait. A takeover
        // of an expired lease always goes ahead (its task is running, so it holds a slot already
        // and cannot be held); it starts an attempt, so it takes from the rate's room first.
        let limits =
            limited
            ? """
            ,
            limits AS MATERIALIZED (
                SELECT l.type, l.rate_count, l.rate_per_seconds,
                       CASE WHEN l.concurrency IS NULL THEN NULL
                            ELSE l.concurrency - (SELECT count(*) FROM task_type_running r JOIN tasks t ON t.id = r.task_id
                                                  WHERE r.type = l.type AND t.status = 'running') END AS running_room,
                       CASE WHEN l.rate_count IS NULL THEN NULL
                            ELSE l.rate_count - (SELECT count(*) FROM task_type_starts s
                                                 WHERE s.type = l.type AND s.started_at > \(now) - l.rate_per_seconds * interval '1 second') END AS rate_room
                FROM task_type_limits l WHERE l.type IN (SELECT type FROM locked)
            ),
            over_limit AS MATERIALIZED (
                SELECT w.id FROM (
                    SELECT locked.id, locked.type, locked.status,
                           row_number() OVER turn AS started_before,
                           count(*) FILTER (WHERE locked.status <> 'running') OVER turn AS new_before
                    FROM locked WHERE locked.claimable\(holdingPausedTypes ? " AND NOT locked.paused" : "")
                    WINDOW turn AS (PARTITION BY locked.type ORDER BY locked.status = 'running' DESC, locked.id)
                ) w JOIN limits l ON l.type = w.type
                WHERE w.status <> 'running'
                  AND (w.new_before > coalesce(l.running_room, w.new_before) OR w.started_before > coalesce(l.rate_room, w.started_before))
            )
            """
            : ""
        let held =
            waiting.isEmpty
            ? ""
            : """
            ,
            held AS (
                UPDATE tasks t SET held_at = \(now), published_at = NULL, published_seq = NULL, updated_at = \(now)
                FROM locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.claimable AND (\(waiting.joined(separator: " OR ")))
                RETURNING t.id
            )
            """
        let started =
            limited
            ? """
            ,
            started AS (
                INSERT INTO task_type_starts (type, started_at)
                SELECT c.type, \(now) FROM claimed c JOIN limits l ON l.type = c.type
                WHERE l.rate_count IS NOT NULL
            ),
            left_window AS (
                DELETE FROM task_type_starts s USING limits l
                WHERE s.type = l.type AND l.rate_count IS NOT NULL AND s.started_at <= \(now) - l.rate_per_seconds * interval '1 second'
            ),
            now_running AS (
                INSERT INTO task_type_running (task_id, type)
                SELECT c.id, c.type FROM claimed c JOIN limits l ON l.type = c.type
                WHERE l.running_room IS NOT NULL
                ON CONFLICT (task_id) DO NOTHING
            ),
            -- Tasks that stopped running since (a row of this batch stays: the insert above keeps it).
            no_longer_running AS (
                DELETE FROM task_type_running r USING limits l
                WHERE r.type = l.type AND r.task_id <> ALL($1::uuid[])
                  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = r.task_id AND t.status = 'running')
            )
            """
            : ""
        var skippedCases: [String] = []
        if !waiting.isEmpty { skippedCases.append("WHEN t.id IN (SELECT id FROM held) THEN 'held'") }
        if mode == .deferred { skippedCases.append("WHEN t.id IN (SELECT id FROM locked WHERE limited AND claimable) THEN 'limited'") }
        let skippedOutcome = skippedCases.isEmpty ? "'skipped'" : "CASE \(skippedCases.joined(separator: " ")) ELSE 'skipped' END"
        return """
            WITH \(lockInIDOrder("$1::uuid[]", columns: lockedColumns))\(limits),
            claimed AS (
                UPDATE tasks t
                SET status = 'running', attempts = t.attempts + 1, lease_owner = $2,
                    lease_expires_at = \(now) + $3 * interval '1 millisecond',
                    started_at = coalesce(t.started_at, \(now)), attempt_started_at = \(now),
                    updated_at = \(now), version = t.version + 1, held_at = NULL,
                    published_at = coalesce(t.published_at, \(now)),
                    published_seq = coalesce(t.published_seq, nullif(($4::int8[])[array_position($1::uuid[], t.id)], 0))
                FROM locked
                WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.claimable\(notWaiting)
                RETURNING \(taskColumns), t.trace_context::text AS trace_context, locked.status AS previous_status, locked.lease_owner AS previous_owner,
                          locked.attempts AS previous_attempt, locked.attempt_started_at AS previous_started_at
            ),
            abandoned AS (
                -- A task taken over from an expired lease: its attempt ended without an outcome and is
                -- recorded here as failed. An attempt claimed before migration 006 has its open row
                -- already; that row is closed instead.
                INSERT INTO task_executions AS e (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
                SELECT id, previous_attempt, 'failed',
                       'attempt abandoned: worker ' || coalesce(previous_owner, 'unknown') || ' stopped without finishing (lease expired)',
                       coalesce(previous_owner, 'unknown'), coalesce(previous_started_at, \(now)), \(now),
                       coalesce(extract(epoch FROM \(now) - previous_started_at) * 1000, 0)
                FROM claimed WHERE previous_status = 'running'
                ON CONFLICT (task_id, attempt) DO UPDATE
                    SET status = 'failed', error = excluded.error, finished_at = \(now),
                        duration_ms = extract(epoch FROM \(now) - e.started_at) * 1000
                    WHERE e.status = 'started'
            )\(held)\(started)
            SELECT 'claimed' AS outcome, c.id, c.type, c.payload, c.priority, c.status, c.attempts, c.max_attempts,
                   c.attempt_base, c.run_at, c.idempotency_key, c.last_error, c.lease_owner, c.lease_expires_at,
                   c.published_at, c.publish_failed_at, c.created_at, c.updated_at, c.started_at, c.finished_at, c.schedule,
                   c.cancel_requested_at, c.trace_context, 0::float8 AS due_in_ms, 0::float8 AS lease_left_ms
            FROM claimed c
            UNION ALL
            SELECT \(skippedOutcome), \(taskColumns), NULL::text,
                   extract(epoch FROM t.run_at - now()) * 1000,
                   coalesce(extract(epoch FROM t.lease_expires_at - now()) * 1000, 0)
            FROM tasks t
            -- The ids left over are gathered first: when every task was claimed (the usual case) the
            -- scan has no key to look up instead of reading every task again to filter it out.
            WHERE t.id = ANY(ARRAY(SELECT id FROM unnest($1::uuid[]) AS i(id) WHERE id NOT IN (SELECT id FROM claimed)))
            """
    }

    /// Ends tasks whose worker stopped (its lease expired) before it acted on a cancel request:
    /// the open attempt is recorded as cancelled, and the task too. Returns the ids it ended.
    func cancelAbandoned(_ ids: [UUID]) async throws -> Set<UUID> {
        guard !ids.isEmpty else { return [] }
        let ids = ids.sorted(by: UUID.postgresOrder)
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]", columns: "status, lease_owner, lease_expires_at, attempts, attempt_started_at, cancel_requested_at")),
                cancelled AS (
                    UPDATE tasks t
                    SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                        last_error = 'cancelled on request; worker ' || coalesce(locked.lease_owner, 'unknown') || ' stopped before it acted on the request',
                        updated_at = now(), version = t.version + 1
                    FROM locked
                    WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.status = 'running'
                      AND locked.cancel_requested_at IS NOT NULL AND locked.lease_expires_at < now()
                    RETURNING t.id, t.status, t.priority, t.last_error, locked.lease_owner AS owner, locked.attempts AS attempt,
                              locked.attempt_started_at AS attempt_started_at
                ),
                \(Self.counting("cancelled")),
                recorded AS (
                    INSERT INTO task_executions AS e (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
                    SELECT id, attempt, 'cancelled', last_error, coalesce(owner, 'unknown'), coalesce(attempt_started_at, now()), now(),
                           coalesce(extract(epoch FROM now() - attempt_started_at) * 1000, 0)
                    FROM cancelled
                    ON CONFLICT (task_id, attempt) DO UPDATE
                        SET status = 'cancelled', error = excluded.error, finished_at = now(),
                            duration_ms = extract(epoch FROM now() - e.started_at) * 1000
                        WHERE e.status = 'started'
                )
                SELECT id FROM cancelled
                """, [PostgresArray(ids)])
        }
        return Set(try rows.rows.map { try $0.uuid("id") })
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
        \(lockInIDOrder("$1::uuid[]", columns: "status, attempts, lease_owner, attempt_started_at, cancel_requested_at")),
        updated AS (
            -- A cancel asked for while the attempt ran ends the task cancelled, whatever the handler
            -- returned: once the request is answered, nothing the attempt does revives the task.
            UPDATE tasks t
            SET status = CASE WHEN locked.cancel_requested_at IS NULL THEN i.status ELSE 'cancelled' END,
                last_error = CASE WHEN locked.cancel_requested_at IS NULL OR i.status = 'cancelled' THEN i.error
                                  ELSE 'cancelled on request while running (the attempt ended ' || i.status
                                       || ' before its worker acted on the request; that outcome was discarded)' END,
                run_at = CASE WHEN i.status = 'retrying' AND locked.cancel_requested_at IS NULL
                              THEN now() + i.delay_ms * interval '1 millisecond' ELSE t.run_at END,
                finished_at = CASE WHEN i.status IN ('completed', 'failed', 'cancelled') OR locked.cancel_requested_at IS NOT NULL
                                   THEN now() ELSE NULL END,
                lease_owner = NULL, lease_expires_at = NULL, updated_at = now(), version = t.version + 1
            FROM input i JOIN locked ON locked.id = i.id
            WHERE t.id = ANY($1::uuid[]) AND t.id = i.id AND locked.status = 'running' AND locked.attempts = i.attempt
            RETURNING t.id, t.status, t.priority, t.last_error, locked.lease_owner AS owner, locked.attempt_started_at AS attempt_started_at
        ),
        \(counting("updated")),
        recorded AS (
            -- The attempt's execution row, written whole when it ends. Only this update (the
            -- attempt still current) or a takeover of its expired lease writes one, and both hold
            -- the task's row lock; an open row from before migration 006 is the exception (see
            -- `finish`).
            INSERT INTO task_executions AS e (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
            SELECT i.id, i.attempt,
                   CASE u.status WHEN 'completed' THEN 'succeeded' WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
                   u.last_error, coalesce(u.owner, 'unknown'), coalesce(u.attempt_started_at, now()),
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
