import Foundation

/// What the API and tools read, and the two changes they ask for (cancel and retry).
extension TaskStore {
    func task(_ id: UUID) async throws -> TaskRecord? {
        let rows = try await pool.withSession { session in
            try session.execute("SELECT \(Self.taskColumns) FROM tasks t WHERE t.id = $1", [id])
        }
        return try rows.rows.first.map(TaskRecord.init(row:))
    }

    func executions(_ id: UUID) async throws -> [TaskExecution] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
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
        // Only the filters given go into the statement, and it is planned for the values given:
        // which index to walk depends on how many rows match (a rare type is found by its index,
        // a common one as quickly along the primary key), which a plan kept for every value
        // cannot know. tasks_status_idx holds every status but completed (most rows, found along
        // the primary key); tasks_type_idx and tasks_priority_idx hold finished tasks only (an
        // entry per task rather than one per status change), so a listing by type or priority
        // without a status reads the finished tasks along those and the unfinished ones (the
        // backlog) along tasks_status_idx, and merges the two pages.
        var conditions: [String] = []
        var parameters: [PostgresEncodable?] = []
        func add(_ condition: (Int) -> String, _ values: [PostgresEncodable?]) {
            conditions.append(condition(parameters.count + 1))
            parameters.append(contentsOf: values)
        }
        if let status = query.status {
            add({ status == .completed ? "t.status = $\($0)" : "t.status = $\($0) AND t.status <> 'completed'" }, [status.rawValue])
        }
        if let type = query.type { add({ "t.type = $\($0)" }, [type]) }
        if let priority = query.priority { add({ "t.priority = $\($0)" }, [priority.rawValue]) }
        if let cursorID { add({ "t.id < $\($0)::uuid" }, [cursorID]) }
        // Task ids are ordered by creation time, so a creation range is a range of ids.
        if let after = query.createdAfter { add({ "t.id >= $\($0)::uuid" }, [UUID.timeOrderedLowerBound(at: after)]) }
        if let before = query.createdBefore { add({ "t.id < $\($0)::uuid" }, [UUID.timeOrderedLowerBound(at: before)]) }
        parameters.append(limit + 1)
        func page(_ extra: String?) -> String {
            let all = conditions + (extra.map { [$0] } ?? [])
            return """
                SELECT \(Self.taskColumns) FROM tasks t
                \(all.isEmpty ? "" : "WHERE " + all.joined(separator: " AND "))
                ORDER BY t.id DESC
                LIMIT $\(parameters.count)
                """
        }
        let sql =
            query.status == nil && (query.type != nil || query.priority != nil)
            ? """
            (\(page("t.status IN ('completed', 'failed', 'cancelled')")))
            UNION ALL
            (\(page("t.status IN ('scheduled', 'queued', 'running', 'retrying') AND t.status <> 'completed'")))
            ORDER BY id DESC
            LIMIT $\(parameters.count)
            """
            : page(nil)
        let rows = try await pool.withSession { [parameters] session in try session.execute(sql, parameters, planEachTime: true) }
        var tasks = try TaskRecord.all(in: rows)
        var next: String?
        if tasks.count > limit {
            tasks.removeLast()
            next = tasks.last.map { TaskCursor(id: $0.id).encoded }
        }
        return TaskPage(tasks: tasks, nextCursor: next)
    }

    /// Exact counts by status and priority, read without reading the history: unfinished tasks
    /// (the backlog) are counted along tasks_status_idx, finished ones are the totals in
    /// `task_counts` plus the deltas the statements that finish, cancel, retry and prune tasks
    /// appended since the reconciler last folded them in.
    func counts() async throws -> TaskCounts {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT status, priority, count(*) AS n FROM tasks
                WHERE status IN ('scheduled', 'queued', 'running', 'retrying') AND status <> 'completed'
                GROUP BY status, priority
                UNION ALL
                SELECT status, priority, sum(n) FROM (
                    SELECT status, priority, n FROM task_counts
                    UNION ALL
                    SELECT status, priority, n FROM task_count_deltas
                ) finished
                GROUP BY status, priority
                """)
        }
        var counts = TaskCounts(byStatus: [:], byPriority: [:], byStatusAndPriority: [:])
        for status in TaskStatus.allCases { counts.byStatus[status] = 0 }
        for priority in TaskPriority.allCases { counts.byPriority[priority] = 0 }
        for row in rows.rows {
            guard let status = TaskStatus(rawValue: try row.string("status")),
                let priority = TaskPriority(rawValue: try row.string("priority"))
            else { continue }
            let n = try row.int("n")
            counts.byStatus[status, default: 0] += n
            counts.byPriority[priority, default: 0] += n
            counts.byStatusAndPriority[status, default: [:]][priority] = n
        }
        return counts
    }

    /// Tasks completed and failed in the last `window`, counted by whole seconds (at most the
    /// hour that per-second finish counts are kept) from `task_finish_seconds` and the deltas not
    /// yet folded into it.
    func finishedRecently(within window: Duration) async throws -> (completed: Int, failed: Int) {
        let seconds = min(max(Int(window.seconds.rounded(.up)), 1), Int(Self.finishSecondsKept.seconds))
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT coalesce(sum(n) FILTER (WHERE status = 'completed'), 0) AS completed,
                       coalesce(sum(n) FILTER (WHERE status = 'failed'), 0) AS failed
                FROM (
                    SELECT status, n FROM task_finish_seconds WHERE second > now() - $1 * interval '1 second'
                    UNION ALL
                    SELECT status, n FROM task_count_deltas WHERE n > 0 AND at > now() - $1 * interval '1 second'
                ) finished
                """, [seconds])
        }
        let row = try rows.rows.first.map { (try $0.int("completed"), try $0.int("failed")) }
        return row ?? (0, 0)
    }

    // MARK: Cancel and retry

    /// Cancels a task that has not started, or asks the worker running it to stop it (the task
    /// keeps running until then, with `cancelRequestedAt` set). Throws `taskNotFound` or, for a
    /// finished task, `invalidState`.
    func cancel(_ id: UUID) async throws -> TaskRecord {
        try TaskRecord(
            row: try await transition(
                id, action: "cancel",
                sql: """
                    WITH cancelled AS (
                        UPDATE tasks t SET status = 'cancelled', finished_at = now(), updated_at = now(), version = t.version + 1, held_at = NULL
                        WHERE t.id = $1 AND t.status IN ('scheduled', 'queued', 'retrying')
                        RETURNING \(Self.taskColumns)
                    ),
                    requested AS (
                        UPDATE tasks t SET cancel_requested_at = coalesce(t.cancel_requested_at, now()), updated_at = now(), version = t.version + 1
                        WHERE t.id = $1 AND t.status = 'running'
                        RETURNING \(Self.taskColumns)
                    ),
                    \(Self.counting("cancelled"))
                    SELECT * FROM cancelled UNION ALL SELECT * FROM requested
                    """))
    }

    /// Tasks a bulk action takes per statement.
    static let bulkBatch = 500

    /// A selection's filters other than its state, as six parameters from `$first` on, in the
    /// order ``filterParameters(_:)`` gives them; a filter not given matches every task.
    static func filter(from first: Int) -> String {
        let p = (first..<first + 6).map { "$\($0)" }
        return """
            (\(p[0])::text IS NULL OR type = \(p[0])) AND (\(p[1])::text IS NULL OR priority = \(p[1]))
              AND (\(p[2])::text IS NULL OR schedule = \(p[2])) AND (\(p[3])::timestamptz IS NULL OR created_at >= \(p[3]))
              AND (\(p[4])::timestamptz IS NULL OR created_at < \(p[4])) AND (\(p[5])::text IS NULL OR last_error = \(p[5]))
            """
    }

    /// The parameters of ``filter(from:)``.
    static func filterParameters(_ selection: TaskSelection) -> [(any PostgresEncodable)?] {
        [selection.type, selection.priority?.rawValue, selection.schedule, selection.createdAfter, selection.createdBefore, selection.error]
    }

    /// How many tasks in `states` match `selection`, counting no further than `cap` (what a bulk
    /// action's confirmation names before it runs).
    func count(matching selection: TaskSelection, states: [TaskStatus], cap: Int) async throws -> Int {
        let parameters: [(any PostgresEncodable)?] = Self.filterParameters(selection) + ["{\(states.map(\.rawValue).joined(separator: ","))}", cap]
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT count(*) AS n FROM (
                    SELECT 1 FROM tasks WHERE status = ANY($7::text[]) AND \(Self.filter(from: 1)) LIMIT $8
                ) matched
                """, parameters)
        }
        return try rows.rows.first?.int("n") ?? 0
    }

    /// Cancels every unfinished task `selection` matches: those waiting are cancelled, those
    /// running get a cancel request. Walks each state's tasks newest first in batches, each its
    /// own statement, so a large selection never holds many locks at once.
    func cancel(matching selection: TaskSelection) async throws -> CancelSummary {
        let states: [TaskStatus] = selection.status.map { [$0] } ?? [.scheduled, .queued, .retrying, .running]
        var summary = CancelSummary(cancelled: 0, cancelRequested: 0)
        for state in states {
            var cursor: UUID?
            while true {
                let parameters: [(any PostgresEncodable)?] = [state.rawValue] + Self.filterParameters(selection) + [cursor, Self.bulkBatch]
                let rows = try await pool.withSession { session in try session.execute(Self.bulkCancelSQL, parameters) }
                guard let row = rows.rows.first else { break }
                summary.cancelled += try row.int("cancelled")
                summary.cancelRequested += try row.int("requested")
                guard try row.int("picked") == Self.bulkBatch, let last = try row.optionalString("last").flatMap(UUID.init(canonicalText:)) else { break }
                cursor = last
            }
        }
        return summary
    }

    // One state at a time along tasks_status_idx (status, id DESC), below the cursor.
    private static let bulkCancelSQL = """
        WITH picked AS (
            SELECT id FROM tasks
            WHERE status = $1 AND \(filter(from: 2)) AND ($8::uuid IS NULL OR id < $8)
            ORDER BY id DESC LIMIT $9
        ),
        \(lockInIDOrder("ARRAY(SELECT id FROM picked)", columns: "status, cancel_requested_at")),
        cancelled AS (
            UPDATE tasks t SET status = 'cancelled', finished_at = now(), updated_at = now(), version = t.version + 1, held_at = NULL
            FROM locked WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND t.id = locked.id AND locked.status IN ('scheduled', 'queued', 'retrying')
            RETURNING t.status, t.priority
        ),
        requested AS (
            UPDATE tasks t SET cancel_requested_at = now(), updated_at = now(), version = t.version + 1
            FROM locked WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND t.id = locked.id AND locked.status = 'running' AND locked.cancel_requested_at IS NULL
            RETURNING t.id
        ),
        \(counting("cancelled"))
        SELECT (SELECT count(*) FROM cancelled) AS cancelled, (SELECT count(*) FROM requested) AS requested,
               (SELECT count(*) FROM picked) AS picked, (SELECT id::text FROM picked ORDER BY id LIMIT 1) AS last
        """

    /// Puts a failed task back in the queue with a fresh attempt budget; returns it with the new
    /// message generation it must now be published under.
    func retry(_ id: UUID) async throws -> (TaskRecord, generation: Int) {
        let row = try await transition(
            id, action: "retry",
            sql: """
                WITH retried AS (
                    UPDATE tasks t SET status = 'queued', attempt_base = t.attempts, run_at = now(), last_error = NULL,
                        finished_at = NULL, publish_generation = t.publish_generation + 1, published_at = NULL, publish_failed_at = NULL,
                        published_seq = NULL, dead_lettered_at = NULL, verified_at = NULL, updated_at = now(), version = t.version + 1
                    WHERE t.id = $1 AND t.status = 'failed'
                    RETURNING \(Self.taskColumns), t.publish_generation
                ),
                -- No longer failed: out of the failed count.
                left_failed AS (SELECT 'failed'::text AS status, priority FROM retried),
                \(Self.counting("left_failed", sign: -1))
                SELECT * FROM retried
                """)
        return (try TaskRecord(row: row), try row.int("publish_generation"))
    }

    /// Puts back in the queue, with a fresh attempt budget each, up to `limit` failed tasks that
    /// `selection` matches below `cursor` (newest first); returns them to publish and the cursor
    /// for the next batch (nil when this was the last).
    func retryBatch(matching selection: TaskSelection, below cursor: UUID?, limit: Int) async throws -> (
        targets: [PublishTarget], next: UUID?
    ) {
        let parameters: [(any PostgresEncodable)?] = Self.filterParameters(selection) + [cursor, limit]
        let rows = try await pool.withSession { session in try session.execute(Self.bulkRetrySQL, parameters) }
        let targets = try rows.rows.compactMap { row in try row.optionalString("id") == nil ? nil : PublishTarget(row: row) }
        let picked = try rows.rows.first?.int("picked") ?? 0
        let last = try rows.rows.first?.optionalString("last").flatMap(UUID.init(canonicalText:))
        return (targets.sorted { UUID.postgresOrder($0.taskID, $1.taskID) }, picked == limit ? last : nil)
    }

    // Failed tasks along tasks_status_idx (status, id DESC), below the cursor. One row per retried
    // task, or one row of nulls when none was (the batch's counts ride on every row).
    private static let bulkRetrySQL = """
        WITH picked AS (
            SELECT id FROM tasks
            WHERE status = 'failed' AND \(filter(from: 1)) AND ($7::uuid IS NULL OR id < $7)
            ORDER BY id DESC LIMIT $8
        ),
        \(lockInIDOrder("ARRAY(SELECT id FROM picked)", columns: "status")),
        retried AS (
            UPDATE tasks t SET status = 'queued', attempt_base = t.attempts, run_at = now(), last_error = NULL,
                finished_at = NULL, publish_generation = t.publish_generation + 1, published_at = NULL, publish_failed_at = NULL,
                published_seq = NULL, dead_lettered_at = NULL, verified_at = NULL, updated_at = now(), version = t.version + 1
            FROM locked WHERE t.id = ANY(ARRAY(SELECT id FROM picked)) AND t.id = locked.id AND locked.status = 'failed'
            RETURNING t.id, t.priority, t.publish_generation
        ),
        left_failed AS (SELECT 'failed'::text AS status, priority FROM retried),
        \(counting("left_failed", sign: -1)),
        batch AS (
            SELECT (SELECT count(*) FROM picked) AS picked, (SELECT id::text FROM picked ORDER BY id LIMIT 1) AS last
        )
        SELECT r.id, r.priority, r.publish_generation, b.picked, b.last FROM batch b LEFT JOIN retried r ON true
        """

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
}
