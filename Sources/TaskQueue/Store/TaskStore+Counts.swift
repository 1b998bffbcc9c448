import Foundation

/// Counts of finished tasks kept by the statements that finish, cancel, retry and prune tasks
/// (migration 008), so reading them does not read the history.
extension TaskStore {
    /// A common table expression that appends the rows `source` returns, counted by status and
    /// priority, to `task_count_deltas`. `source` must return `status` and `priority` columns;
    /// rows whose status is not final are left out. `sign` -1 subtracts them (a failed task
    /// retried, a finished task pruned): a positive delta is a finish, a negative one is not.
    static func counting(_ source: String, sign: Int = 1) -> String {
        """
        \(source)_counted AS (
            INSERT INTO task_count_deltas (status, priority, n)
            SELECT status, priority, \(sign) * count(*) FROM \(source)
            WHERE status IN ('completed', 'failed', 'cancelled') GROUP BY status, priority
        )
        """
    }

    /// How long per-second finish counts are kept (the pruner deletes older ones).
    static let finishSecondsKept: Duration = .seconds(3600)

    /// Moves the deltas appended so far into the totals and the per-second finish counts, in one
    /// statement; returns how many it moved. Two at once are safe: a delta is moved by whichever
    /// deletes it first, and each takes the totals' rows in key order.
    @discardableResult
    func foldCounts() async throws -> Int {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH moved AS (DELETE FROM task_count_deltas RETURNING status, priority, n, at),
                totals AS (
                    INSERT INTO task_counts AS c (status, priority, n)
                    SELECT status, priority, sum(n) FROM moved GROUP BY status, priority ORDER BY status, priority
                    ON CONFLICT (status, priority) DO UPDATE SET n = c.n + excluded.n
                ),
                seconds AS (
                    INSERT INTO task_finish_seconds AS s (second, status, n)
                    SELECT date_trunc('second', at), status, sum(n) FROM moved WHERE n > 0
                    GROUP BY 1, 2 ORDER BY 1, 2
                    ON CONFLICT (second, status) DO UPDATE SET n = s.n + excluded.n
                )
                SELECT count(*) AS n FROM moved
                """)
        }
        return try rows.rows.first?.int("n") ?? 0
    }

    /// Counts the finished tasks afresh, row by row, into `task_counts`: for tasks changed by hand
    /// in SQL (or by a TaskFlow older than migration 008 running beside this one), which the kept
    /// counts cannot know about. Changes to `tasks` wait while it counts.
    func recountFinished() async throws {
        try await pool.withSession { session in
            try session.transaction {
                try session.execute("LOCK TABLE tasks IN SHARE MODE")
                try session.execute("DELETE FROM task_count_deltas WHERE n < 0")
                try session.execute(
                    """
                    WITH finishes AS (DELETE FROM task_count_deltas RETURNING status, n, at)
                    INSERT INTO task_finish_seconds AS s (second, status, n)
                    SELECT date_trunc('second', at), status, sum(n) FROM finishes GROUP BY 1, 2 ORDER BY 1, 2
                    ON CONFLICT (second, status) DO UPDATE SET n = s.n + excluded.n
                    """)
                try session.execute("DELETE FROM task_counts")
                try session.execute(
                    """
                    INSERT INTO task_counts (status, priority, n)
                    SELECT status, priority, count(*) FROM tasks
                    WHERE status IN ('completed', 'failed', 'cancelled')
                    GROUP BY status, priority
                    """)
            }
        }
    }
}
