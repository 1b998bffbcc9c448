import Foundation

/// Counts of finished tasks kept by the statements that finish, cancel, retry and prune tasks
/// (migration 008), so reading them does not read the history.
extension TaskStore {
    /// The shard a statement adds its counts to: its session's, so sessions finishing tasks at the
    /// same time seldom update the same row.
    static let countShard = "(pg_backend_pid() % 16)::smallint"

    /// Common table expressions that count the rows `source` returns into `task_counts` (and, when
    /// `perSecond`, into `task_finish_seconds`). `source` must return `status` and `priority`
    /// columns; rows whose status is not final are left out. `sign` -1 subtracts them instead
    /// (a failed task retried, a finished task pruned). Each upsert takes its rows in key order,
    /// so two statements of the same shard wait for each other rather than deadlock.
    static func counting(_ source: String, sign: Int = 1, perSecond: Bool) -> String {
        let final = "status IN ('completed', 'failed', 'cancelled')"
        var sql = """
            \(source)_counted AS (
                INSERT INTO task_counts AS c (status, priority, shard, n)
                SELECT status, priority, \(countShard), \(sign) * count(*) FROM \(source)
                WHERE \(final) GROUP BY status, priority ORDER BY status, priority
                ON CONFLICT (status, priority, shard) DO UPDATE SET n = c.n + excluded.n
            )
            """
        if perSecond {
            sql += """
                ,
                \(source)_per_second AS (
                    INSERT INTO task_finish_seconds AS s (second, status, shard, n)
                    SELECT date_trunc('second', now()), status, \(countShard), count(*) FROM \(source)
                    WHERE \(final) GROUP BY status ORDER BY status
                    ON CONFLICT (second, status, shard) DO UPDATE SET n = s.n + excluded.n
                )
                """
        }
        return sql
    }

    /// How long per-second finish counts are kept (the pruner deletes older ones).
    static let finishSecondsKept: Duration = .seconds(3600)
}

extension TaskStore {
    /// Counts the finished tasks afresh, row by row, into `task_counts`: for tasks changed by hand
    /// in SQL (or by a TaskFlow older than migration 008 running beside this one), which the kept
    /// counts cannot know about. Changes to `tasks` wait while it counts.
    func recountFinished() async throws {
        try await pool.withSession { session in
            try session.transaction {
                try session.execute("LOCK TABLE tasks IN SHARE MODE")
                try session.execute("DELETE FROM task_counts")
                try session.execute(
                    """
                    INSERT INTO task_counts (status, priority, shard, n)
                    SELECT status, priority, 0, count(*) FROM tasks
                    WHERE status IN ('completed', 'failed', 'cancelled')
                    GROUP BY status, priority
                    """)
            }
        }
    }
}
