import Foundation

/// Every statement TaskFlow runs against PostgreSQL. Batch operations are set-based (arrays
/// unnested server-side), so many tasks cost one round trip and one durable commit.
struct TaskStore: Sendable {
    let pool: PostgresPool

    /// Every statement that changes several tasks first locks them in id order. Without one order,
    /// two statements (say a claim and a finish, or a publish mark) lock the same rows in different
    /// orders and PostgreSQL aborts one of them as a deadlock (seen under load).
    ///
    /// `columns` come from the row version the lock was taken on (the newest), so statements check
    /// a task's state on `locked` and reach `tasks` by id alone: every access to `tasks` stays on
    /// the primary key whatever the planner believes about the status columns.
    ///
    /// Joins keep `t.id = ANY($1)` beside `t.id = locked.id`: without it, a plan made while a
    /// table was small can walk a whole index per statement. PostgreSQL sorts that array again
    /// for every row of the join, so callers pass ids already sorted (`UUID.postgresOrder`), which
    /// its sort checks in one pass.
    static func lockInIDOrder(_ ids: String, columns: String = "") -> String {
        "locked AS MATERIALIZED (SELECT id\(columns.isEmpty ? "" : ", " + columns) FROM tasks WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE)"
    }

    static let taskColumns = """
        t.id, t.type, t.payload::text AS payload, t.priority, t.status, t.attempts, t.max_attempts, t.attempt_base,
        t.run_at, t.idempotency_key, t.last_error, t.lease_owner, t.lease_expires_at, t.published_at, t.publish_failed_at,
        t.created_at, t.updated_at, t.started_at, t.finished_at
        """

    // MARK: Enqueue

    static let insertSQL = """
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::int[], $6::timestamptz[], $7::text[])
                AS i(id, type, payload, priority, max_attempts, run_at, idempotency_key)
        ),
        -- Tasks without an idempotency key are inserted plainly: ON CONFLICT makes every row a
        -- speculative insertion (a token lock and a confirming WAL record per row), which only
        -- keyed tasks need.
        plain AS (\(insertFromInput(where: "idempotency_key IS NULL", onConflict: ""))),
        keyed AS (\(insertFromInput(where: "idempotency_key IS NOT NULL", onConflict: """
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            """)))
        SELECT * FROM plain UNION ALL SELECT * FROM keyed
        """

    /// One insert of the enqueue statement: the `input` rows that match `condition`.
    private static func insertFromInput(where condition: String, onConflict: String) -> String {
        """
        INSERT INTO tasks AS t (id, type, payload, priority, status, max_attempts, run_at, idempotency_key)
        SELECT id, type, payload, priority,
               CASE WHEN run_at IS NOT NULL AND run_at > now() THEN 'scheduled' ELSE 'queued' END,
               max_attempts, coalesce(run_at, now()), idempotency_key
        FROM input WHERE \(condition)
        \(onConflict)
        RETURNING t.id, t.payload::text AS payload, t.status, t.run_at, t.created_at
        """
    }

    /// Inserts tasks in one statement. A task whose idempotency key exists already is not inserted;
    /// the existing task comes back with `created == false`, or an error when its content differs.
    /// One result per task, in order: one caller's conflict does not fail the others in the batch.
    static func insert(_ tasks: [NewTask], defaultMaxAttempts: Int, session: PostgresSession) throws -> [Result<EnqueueResult, TaskQueueError>] {
        guard !tasks.isEmpty else { return [] }
        let ids = UUID.timeOrdered(count: tasks.count)
        let inserted = try session.execute(Self.insertSQL, [
            PostgresArray(ids),
            PostgresArray(tasks.map(\.type)),
            PostgresArray(tasks.map(\.payloadJSON)),
            PostgresArray(tasks.map(\.priority.rawValue)),
            PostgresArray(tasks.map { $0.maxAttempts ?? defaultMaxAttempts }),
            PostgresArray(tasks.map(\.runAt)),
            PostgresArray(tasks.map(\.idempotencyKey)),
        ])
        // Only what the database decided comes back; the rest of a new row is what we sent
        // and the table's defaults (decoding whole rows cost more than the INSERT itself).
        let sent = Dictionary(uniqueKeysWithValues: zip(ids, tasks))
        var byID: [UUID: TaskRecord] = [:]
        byID.reserveCapacity(tasks.count)
        if let first = inserted.rows.first {
            let idAt = try first.position("id"), payloadAt = try first.position("payload")
            let statusAt = try first.position("status"), runAtAt = try first.position("run_at")
            let createdAtAt = try first.position("created_at")
            for row in inserted.rows {
                let id = try row.uuid(at: idAt)
                guard let task = sent[id], let status = TaskStatus(rawValue: try row.string(at: statusAt)) else {
                    throw TaskQueueError(.databaseError, "the insert returned an unexpected row for task \(id)")
                }
                let createdAt = try row.date(at: createdAtAt)
                byID[id] = TaskRecord(
                    id: id, type: task.type, payload: try row.string(at: payloadAt), priority: task.priority, status: status,
                    attempts: 0, maxAttempts: task.maxAttempts ?? defaultMaxAttempts, attemptBase: 0,
                    runAt: try row.date(at: runAtAt), idempotencyKey: task.idempotencyKey, lastError: nil, leaseOwner: nil,
                    leaseExpiresAt: nil, publishedAt: nil, createdAt: createdAt, updatedAt: createdAt, startedAt: nil, finishedAt: nil
                )
            }
        }
        var existingByKey: [String: TaskRecord] = [:]
        let missingKeys = zip(ids, tasks).compactMap { id, task in byID[id] == nil ? task.idempotencyKey : nil }
        if !missingKeys.isEmpty {
            let rows = try session.execute(
                "SELECT \(taskColumns) FROM tasks t WHERE t.idempotency_key = ANY($1::text[])",
                [PostgresArray(missingKeys)]
            )
            for row in rows.rows {
                let task = try TaskRecord(row: row)
                if let key = task.idempotencyKey { existingByKey[key] = task }
            }
        }
        var results: [Result<EnqueueResult, TaskQueueError>] = []
        var firstForKey: [String: UUID] = [:]
        for (id, task) in zip(ids, tasks) {
            if let created = byID[id] {
                if let key = task.idempotencyKey { firstForKey[key] = id }
                results.append(.success(EnqueueResult(task: created, created: true)))
                continue
            }
            let key = task.idempotencyKey ?? ""
            guard let existing = existingByKey[key] ?? firstForKey[key].flatMap({ byID[$0] }) else {
                results.append(.failure(TaskQueueError(.databaseError, "task with idempotency key \(key) was neither inserted nor found")))
                continue
            }
            guard existing.type == task.type, existing.priority == task.priority,
                  (try? jsonEqual(existing.payload, task.payloadJSON)) == true
            else {
                results.append(.failure(TaskQueueError(
                    .idempotencyConflict,
                    "idempotency key \(key) belongs to a task with a different type, priority or payload",
                    taskID: existing.id
                )))
                continue
            }
            results.append(.success(EnqueueResult(task: existing, created: false)))
        }
        return results
    }

    /// Records which stream message now carries each task.
    static func markPublished(_ marks: [PublishMark], session: PostgresSession) throws {
        guard !marks.isEmpty else { return }
        try session.execute("""
            WITH \(lockInIDOrder("$1::uuid[]"))
            UPDATE tasks t SET published_at = now(), published_seq = m.seq
            FROM unnest($1::uuid[], $2::int8[], $3::int[]) AS m(id, seq, generation), locked
            WHERE t.id = m.id AND locked.id = m.id AND t.publish_generation = m.generation
            """, [
                PostgresArray(marks.map(\.taskID)),
                PostgresArray(marks.map { Int64(bitPattern: $0.sequence) }),
                PostgresArray(marks.map(\.generation)),
            ])
    }

    func markPublished(_ marks: [PublishMark]) async throws {
        guard !marks.isEmpty else { return }
        try await pool.withSession { try Self.markPublished(marks, session: $0) }
    }

    /// Records that publishing these tasks failed, so the reconciler publishes them after its short
    /// grace rather than its confirmation wait.
    func markPublishFailed(_ ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute("""
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET publish_failed_at = now()
                FROM locked WHERE t.id = locked.id AND t.published_at IS NULL
                """, [PostgresArray(ids)])
        }
    }

    // MARK: Claim and finish

    /// Claims the due tasks among `ids` for `workerID` in one statement: from queued, retrying or a
    /// due scheduled task, or from running when the lease has expired (the previous worker died,
    /// and its open attempt is closed as failed). Unclaimed ids come back with why.
    /// `sequences` gives the stream sequence of the message each id arrived in: a claim is the
    /// first proof that an enqueued task's message reached the stream, so it records where.
    func claim(_ ids: [UUID], sequences: [UInt64]? = nil, workerID: String, lease: Duration) async throws -> [UUID: ClaimOutcome] {
        guard !ids.isEmpty else { return [:] }
        let sequences = sequences.flatMap { $0.count == ids.count ? $0 : nil } ?? ids.map { _ in UInt64(0) }
        let input = zip(ids, sequences).sorted { UUID.postgresOrder($0.0, $1.0) }
        let rows = try await pool.withSession { session in
            try session.execute(Self.claimSQL, [
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
                if try row.string(at: outcomeColumn) == "claimed" {
                    outcomes[task.id] = .claimed(task)
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
    static let claimSQL = """
        WITH \(lockInIDOrder("$1::uuid[]", columns: "status, lease_owner, attempts, attempt_started_at, \(claimable) AS claimable")),
        claimed AS (
            UPDATE tasks t
            SET status = 'running', attempts = t.attempts + 1, lease_owner = $2,
                lease_expires_at = now() + $3 * interval '1 millisecond',
                started_at = coalesce(t.started_at, now()), attempt_started_at = now(),
                updated_at = now(), version = t.version + 1,
                published_at = coalesce(t.published_at, now()),
                published_seq = coalesce(t.published_seq, nullif(($4::int8[])[array_position($1::uuid[], t.id)], 0))
            FROM locked
            WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND locked.claimable
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
        )
        SELECT 'claimed' AS outcome, c.id, c.type, c.payload, c.priority, c.status, c.attempts, c.max_attempts,
               c.attempt_base, c.run_at, c.idempotency_key, c.last_error, c.lease_owner, c.lease_expires_at,
               c.published_at, c.publish_failed_at, c.created_at, c.updated_at, c.started_at, c.finished_at,
               0::float8 AS due_in_ms, 0::float8 AS lease_left_ms
        FROM claimed c
        UNION ALL
        SELECT 'skipped', \(taskColumns),
               extract(epoch FROM t.run_at - now()) * 1000,
               coalesce(extract(epoch FROM t.lease_expires_at - now()) * 1000, 0)
        FROM tasks t
        -- The ids left over are gathered first: when every task was claimed (the usual case) the
        -- scan has no key to look up instead of reading every task again to filter it out.
        WHERE t.id = ANY(ARRAY(SELECT id FROM unnest($1::uuid[]) AS i(id) WHERE id NOT IN (SELECT id FROM claimed)))
        """

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
    static let finishClosingOpenRowsSQL = finishStatement(onConflict: """
        ON CONFLICT (task_id, attempt) DO UPDATE
            SET status = excluded.status, error = excluded.error, finished_at = now(),
                duration_ms = extract(epoch FROM now() - e.started_at) * 1000
            WHERE e.status = 'started'
        """)

    private static func finishStatement(onConflict: String) -> String { """
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
            RETURNING t.id, locked.lease_owner AS owner, locked.attempt_started_at AS attempt_started_at
        ),
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
            try session.execute("""
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET lease_expires_at = now() + $3 * interval '1 millisecond'
                FROM locked
                WHERE t.id = locked.id AND t.status = 'running' AND t.lease_owner = $2
                RETURNING t.id
                """, [PostgresArray(ids), workerID, Int(lease.milliseconds)])
        }
        return Set(try rows.rows.map { try $0.uuid("id") })
    }

    /// Marks dead letters as published.
    func markDeadLettered(_ ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute("""
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET dead_lettered_at = now() FROM locked WHERE t.id = locked.id
                """, [PostgresArray(ids)])
        }
    }

    // MARK: Reads

    func task(_ id: UUID) async throws -> TaskRecord? {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT \(Self.taskColumns) FROM tasks t WHERE t.id = $1", [id])
        }
        return try rows.rows.first.map(TaskRecord.init(row:))
    }

    func executions(_ id: UUID) async throws -> [TaskExecution] {
        let rows = try await pool.withSession { session in
            try session.execute("""
                SELECT task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms
                FROM task_executions WHERE task_id = $1
                UNION ALL
                -- The attempt running now has no row until it ends; the task row says who runs it
                -- and since when.
                SELECT id, attempts, 'started', NULL, lease_owner, attempt_started_at, NULL, NULL
                FROM tasks t
                WHERE id = $1 AND status = 'running' AND lease_owner IS NOT NULL AND attempt_started_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM task_executions e WHERE e.task_id = $1 AND e.attempt = t.attempts)
                ORDER BY attempt
                """, [id])
        }
        return try rows.rows.map { row in
            TaskExecution(
                taskID: try row.uuid("task_id"),
                attempt: try row.int("attempt"),
                status: ExecutionStatus(rawValue: try row.string("status")) ?? .failed,
                error: try row.optionalString("error"),
                workerID: try row.string("worker_id"),
                startedAt: try row.date("started_at"),
                finishedAt: try row.optionalDate("finished_at"),
                durationMilliseconds: try row.double("duration_ms")
            )
        }
    }

    func list(_ query: TaskQuery) async throws -> TaskPage {
        let limit = min(max(query.limit, 1), 200)
        var cursorID: UUID?
        if let cursor = query.cursor {
            guard let decoded = TaskCursor(encoded: cursor) else {
                throw TaskQueueError(.invalidArgument, "cursor is malformed")
            }
            cursorID = decoded.id
        }
        // Only the filters given go into the statement: sessions keep one generic plan per
        // statement text, and each combination of filters needs its own (at most 16 of them).
        var conditions: [String] = []
        var parameters: [PostgresEncodable?] = []
        func add(_ condition: (Int) -> String, _ values: [PostgresEncodable?]) {
            conditions.append(condition(parameters.count + 1))
            parameters.append(contentsOf: values)
        }
        if let status = query.status {
            // tasks_status_idx leaves completed tasks out (most rows, and a finish that writes no
            // entry there is cheaper); other statuses restate its condition so a generic plan can
            // use it. Completed tasks are found walking the primary key, where most rows are.
            add({ status == .completed ? "t.status = $\($0)" : "t.status = $\($0) AND t.status <> 'completed'" }, [status.rawValue])
        }
        if let type = query.type { add({ "t.type = $\($0)" }, [type]) }
        if let priority = query.priority { add({ "t.priority = $\($0)" }, [priority.rawValue]) }
        if let cursorID { add({ "t.id < $\($0)::uuid" }, [cursorID]) }
        parameters.append(limit + 1)
        let sql = """
            SELECT \(Self.taskColumns) FROM tasks t
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY t.id DESC
            LIMIT $\(parameters.count)
            """
        let rows = try await pool.withSession { [parameters] session in try session.execute(sql, parameters) }
        var tasks = try TaskRecord.all(in: rows)
        var next: String?
        if tasks.count > limit {
            tasks.removeLast()
            next = tasks.last.map { TaskCursor(id: $0.id).encoded }
        }
        return TaskPage(tasks: tasks, nextCursor: next)
    }

    func counts() async throws -> TaskCounts {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT status, priority, count(*) AS n FROM tasks GROUP BY status, priority")
        }
        var counts = TaskCounts(byStatus: [:], byPriority: [:], byStatusAndPriority: [:])
        for status in TaskStatus.allCases { counts.byStatus[status] = 0 }
        for priority in TaskPriority.allCases { counts.byPriority[priority] = 0 }
        for row in rows.rows {
            guard let status = TaskStatus(rawValue: try row.string("status")),
                  let priority = TaskPriority(rawValue: try row.string("priority")) else { continue }
            let n = try row.int("n")
            counts.byStatus[status, default: 0] += n
            counts.byPriority[priority, default: 0] += n
            counts.byStatusAndPriority[status, default: [:]][priority] = n
        }
        return counts
    }

    /// Tasks completed and failed in the last `window`.
    func finishedRecently(within window: Duration) async throws -> (completed: Int, failed: Int) {
        let rows = try await pool.withSession { session in
            try session.execute("""
                SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
                       count(*) FILTER (WHERE status = 'failed') AS failed
                FROM tasks WHERE finished_at > now() - $1 * interval '1 millisecond'
                """, [Int(window.milliseconds)])
        }
        let row = try rows.rows.first.map { (try $0.int("completed"), try $0.int("failed")) }
        return row ?? (0, 0)
    }

    // MARK: Cancel and replay

    /// Cancels a task that has not started; returns nil when no task has that id.
    func cancel(_ id: UUID) async throws -> TaskRecord {
        try TaskRecord(row: try await transition(id, action: "cancel", sql: """
            UPDATE tasks t SET status = 'cancelled', finished_at = now(), updated_at = now(), version = t.version + 1
            WHERE t.id = $1 AND t.status IN ('scheduled', 'queued', 'retrying')
            RETURNING \(Self.taskColumns)
            """))
    }

    /// Puts a failed task back in the queue with a fresh attempt budget; returns it with the new
    /// message generation it must now be published under.
    func replay(_ id: UUID) async throws -> (TaskRecord, generation: Int) {
        let row = try await transition(id, action: "replay", sql: """
            UPDATE tasks t SET status = 'queued', attempt_base = t.attempts, run_at = now(), last_error = NULL,
                finished_at = NULL, publish_generation = t.publish_generation + 1, published_at = NULL, publish_failed_at = NULL,
                published_seq = NULL, dead_lettered_at = NULL, verified_at = NULL, updated_at = now(), version = t.version + 1
            WHERE t.id = $1 AND t.status = 'failed'
            RETURNING \(Self.taskColumns), t.publish_generation
            """)
        return (try TaskRecord(row: row), try row.int("publish_generation"))
    }

    /// Runs a conditional state change; when it matches no row, says whether the task is missing
    /// or in the wrong state.
    private func transition(_ id: UUID, action: String, sql: String) async throws -> PostgresRow {
        let rows = try await pool.withSession { session in try session.execute(sql, [id]) }
        if let row = rows.rows.first { return row }
        guard let current = try await task(id) else {
            throw TaskQueueError(.taskNotFound, "no task with id \(id)", taskID: id)
        }
        throw TaskQueueError(.invalidState, "cannot \(action) a task that is \(current.status.rawValue)", taskID: id)
    }

    // MARK: Reconciler scans

    /// Queued or retrying tasks with no publish recorded: those whose publish failed once older than
    /// `grace`, the others (most likely a backlog no worker has claimed yet) once older than `confirmAfter`.
    func unpublished(olderThan grace: Duration, confirmAfter: Duration, limit: Int) async throws -> [PublishTarget] {
        let rows = try await pool.withSession { session in
            // Two index range scans: a backlog of young unflagged tasks costs nothing to skip.
            try session.execute("""
                (SELECT id, priority, publish_generation FROM tasks
                 WHERE publish_failed_at IS NOT NULL AND published_at IS NULL AND status IN ('queued', 'retrying')
                   AND updated_at < now() - $1 * interval '1 millisecond'
                 ORDER BY updated_at LIMIT $2)
                UNION
                (SELECT id, priority, publish_generation FROM tasks
                 WHERE published_at IS NULL AND status IN ('queued', 'retrying')
                   AND created_at < now() - $3 * interval '1 millisecond'
                 ORDER BY created_at LIMIT $2)
                LIMIT $2
                """, [Int(grace.milliseconds), limit, Int(confirmAfter.milliseconds)])
        }
        return try rows.rows.map(PublishTarget.init(row:))
    }

    /// Moves due scheduled tasks to queued (unpublished) and returns them for publishing.
    func promoteDueScheduled(limit: Int) async throws -> [PublishTarget] {
        let rows = try await pool.withSession { session in
            try session.execute("""
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
            try session.execute("""
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
            try session.execute("""
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET verified_at = now() FROM locked WHERE t.id = locked.id
                """, [PostgresArray(ids)])
        }
    }

    /// Starts a new message generation for tasks whose message is gone; returns those still in the
    /// same generation (another reconciler may have done it already).
    func bumpGeneration(_ targets: [PublishTarget]) async throws -> [PublishTarget] {
        guard !targets.isEmpty else { return [] }
        let rows = try await pool.withSession { session in
            try session.execute("""
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET publish_generation = t.publish_generation + 1, published_at = NULL, published_seq = NULL
                FROM unnest($1::uuid[], $2::int[]) AS g(id, generation), locked
                WHERE t.id = g.id AND locked.id = g.id AND t.publish_generation = g.generation
                  AND t.status IN ('queued', 'running', 'retrying')
                RETURNING t.id, t.priority, t.publish_generation
                """, [PostgresArray(targets.map(\.taskID)), PostgresArray(targets.map(\.generation))])
        }
        return try rows.rows.map(PublishTarget.init(row:))
    }

    /// Failed tasks whose dead letter was never published.
    func pendingDeadLetters(olderThan grace: Duration, limit: Int) async throws -> [TaskRecord] {
        let rows = try await pool.withSession { session in
            try session.execute("""
                SELECT \(Self.taskColumns) FROM tasks t
                WHERE t.status = 'failed' AND t.dead_lettered_at IS NULL
                  AND t.finished_at < now() - $1 * interval '1 millisecond'
                ORDER BY t.finished_at LIMIT $2
                """, [Int(grace.milliseconds), limit])
        }
        return try TaskRecord.all(in: rows)
    }
}

/// What a claim found for one id.
enum ClaimOutcome: Sendable, Equatable {
    case claimed(TaskRecord)
    /// Not due yet: redeliver after this long.
    case notDue(Duration)
    /// Another worker runs it under a live lease that ends in this long. If that worker dies, this
    /// copy is the task's way back, so it must return after the lease rather than be acked.
    case leased(Duration)
    /// Already finished (completed, failed or cancelled).
    case finished(TaskStatus)
    /// Another worker claimed it in the same instant (its own copy of the message carries it).
    case heldElsewhere
    /// No such task.
    case unknown
}

/// How one attempt ended, as the store records it.
struct AttemptOutcome: Sendable {
    enum Status: String, Sendable { case completed, retrying, failed }
    var taskID: UUID
    var attempt: Int
    var status: Status
    var error: String?
    var retryDelay: Duration?
}

/// A task to publish, with the message generation that names its Nats-Msg-Id.
struct PublishTarget: Sendable, Equatable {
    var taskID: UUID
    var priority: TaskPriority
    var generation: Int

    var messageID: String { "\(taskID.postgresText):\(generation)" }

    init(taskID: UUID, priority: TaskPriority, generation: Int) {
        self.taskID = taskID
        self.priority = priority
        self.generation = generation
    }

    init(row: PostgresRow) throws {
        taskID = try row.uuid("id")
        priority = TaskPriority(rawValue: try row.string("priority")) ?? .normal
        generation = try row.int("publish_generation")
    }
}

struct PublishMark: Sendable {
    var taskID: UUID
    var sequence: UInt64
    var generation: Int
}

struct SuspectTask: Sendable {
    var target: PublishTarget
    var sequence: UInt64?
}

/// Opaque pagination position: the last task's id. Task ids are time-ordered (UUIDv7, made by
/// the enqueuing process), so id order is creation order and one index serves every listing.
struct TaskCursor {
    var id: UUID

    var encoded: String { Data(id.postgresText.utf8).base64EncodedString() }

    init(id: UUID) {
        self.id = id
    }

    init?(encoded: String) {
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else { return nil }
        // Cursors from before id ordering were "<created_at micros>:<id>"; the id alone still
        // names the position.
        let idText = text.split(separator: ":", maxSplits: 1).last.map(String.init) ?? text
        guard let id = UUID(canonicalText: idText) else { return nil }
        self.id = id
    }
}

/// Where the task columns are in one result. Looked up once per result: by name, every column of
/// every row hashed its name again (a tenth of a claim's time in the worker's profile).
struct TaskRecordColumns {
    let id, type, payload, priority, status, attempts, maxAttempts, attemptBase, runAt, idempotencyKey,
        lastError, leaseOwner, leaseExpiresAt, publishedAt, publishFailedAt, createdAt, updatedAt, startedAt, finishedAt: Int

    init(_ row: PostgresRow) throws {
        id = try row.position("id")
        type = try row.position("type")
        payload = try row.position("payload")
        priority = try row.position("priority")
        status = try row.position("status")
        attempts = try row.position("attempts")
        maxAttempts = try row.position("max_attempts")
        attemptBase = try row.position("attempt_base")
        runAt = try row.position("run_at")
        idempotencyKey = try row.position("idempotency_key")
        lastError = try row.position("last_error")
        leaseOwner = try row.position("lease_owner")
        leaseExpiresAt = try row.position("lease_expires_at")
        publishedAt = try row.position("published_at")
        publishFailedAt = try row.position("publish_failed_at")
        createdAt = try row.position("created_at")
        updatedAt = try row.position("updated_at")
        startedAt = try row.position("started_at")
        finishedAt = try row.position("finished_at")
    }
}

extension TaskRecord {
    init(row: PostgresRow) throws {
        try self.init(row: row, columns: TaskRecordColumns(row))
    }

    init(row: PostgresRow, columns: TaskRecordColumns) throws {
        id = try row.uuid(at: columns.id)
        type = try row.string(at: columns.type)
        payload = try row.string(at: columns.payload)
        priority = TaskPriority(rawValue: try row.string(at: columns.priority)) ?? .normal
        guard let status = TaskStatus(rawValue: try row.string(at: columns.status)) else {
            throw TaskQueueError(.databaseError, "task \(id) has an unknown status")
        }
        self.status = status
        attempts = try row.int(at: columns.attempts)
        maxAttempts = try row.int(at: columns.maxAttempts)
        attemptBase = try row.int(at: columns.attemptBase)
        runAt = try row.date(at: columns.runAt)
        idempotencyKey = try row.optionalString(at: columns.idempotencyKey)
        lastError = try row.optionalString(at: columns.lastError)
        leaseOwner = try row.optionalString(at: columns.leaseOwner)
        leaseExpiresAt = try row.optionalDate(at: columns.leaseExpiresAt)
        publishedAt = try row.optionalDate(at: columns.publishedAt)
        publishFailedAt = try row.optionalDate(at: columns.publishFailedAt)
        createdAt = try row.date(at: columns.createdAt)
        updatedAt = try row.date(at: columns.updatedAt)
        startedAt = try row.optionalDate(at: columns.startedAt)
        finishedAt = try row.optionalDate(at: columns.finishedAt)
    }

    /// Every row of a result as a task, the column positions looked up once.
    static func all(in rows: PostgresRows) throws -> [TaskRecord] {
        guard let first = rows.rows.first else { return [] }
        let columns = try TaskRecordColumns(first)
        return try rows.rows.map { try TaskRecord(row: $0, columns: columns) }
    }
}

/// Compares two JSON texts by value (key order and spacing do not matter).
func jsonEqual(_ lhs: String, _ rhs: String) throws -> Bool {
    func parse(_ text: String) throws -> NSObject? {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? NSObject
    }
    return try parse(lhs) == parse(rhs)
}
