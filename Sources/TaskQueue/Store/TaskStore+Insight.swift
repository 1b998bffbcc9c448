import Foundation

/// Reads for the dashboard, each bounded by what it shows rather than by the history kept.
extension TaskStore {
    /// Completed and failed tasks per step over the last `window` (at most the hour that
    /// per-second finish counts are kept), from `task_finish_seconds` and the deltas not yet folded.
    func finishedSeries(window: Duration, step: Duration) async throws -> FinishedSeries {
        let windowSeconds = min(max(Int(window.seconds.rounded(.up)), 1), Int(Self.finishSecondsKept.seconds))
        let stepSeconds = max(Int(step.seconds.rounded(.up)), 1)
        let steps = (windowSeconds + stepSeconds - 1) / stepSeconds
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH clock AS (SELECT floor(extract(epoch FROM now()))::bigint AS now_s)
                SELECT clock.now_s, f.s, f.status, f.n FROM clock LEFT JOIN (
                    SELECT floor(extract(epoch FROM second))::bigint AS s, status, sum(n)::bigint AS n FROM (
                        SELECT second, status, n FROM task_finish_seconds
                        WHERE second > now() - $1 * interval '1 second' AND status IN ('completed', 'failed')
                        UNION ALL
                        SELECT at, status, n FROM task_count_deltas
                        WHERE n > 0 AND at > now() - $1 * interval '1 second' AND status IN ('completed', 'failed')
                    ) finished GROUP BY 1, 2
                ) f ON true
                """, [(steps + 1) * stepSeconds])
        }
        let now = try rows.rows.first?.int("now_s") ?? Int(Date().timeIntervalSince1970)
        // Whole steps only: the last one ends at the latest step boundary (the step under way is
        // left out, as a partly counted step would read as a drop).
        let start = now / stepSeconds * stepSeconds - steps * stepSeconds
        var series = FinishedSeries(
            start: Date(timeIntervalSince1970: TimeInterval(start)), step: .seconds(stepSeconds),
            completed: Array(repeating: 0, count: steps), failed: Array(repeating: 0, count: steps))
        for row in rows.rows {
            guard let second = try row.optionalString("s").flatMap(Int.init), let status = try row.optionalString("status") else { continue }
            let index = (second - start) / stepSeconds
            guard (0..<steps).contains(index), second >= start else { continue }
            if status == "completed" { series.completed[index] += try row.int("n") } else { series.failed[index] += try row.int("n") }
        }
        return series
    }

    /// The newest `sample` failed tasks grouped by type and last error, largest groups first.
    func failureGroups(sample: Int, limit: Int) async throws -> (groups: [FailureGroup], sampled: Int) {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH recent AS (
                    SELECT type, last_error, finished_at FROM tasks WHERE status = 'failed' ORDER BY id DESC LIMIT $1
                )
                SELECT g.type, g.last_error, g.n, g.latest, (SELECT count(*) FROM recent) AS sampled
                FROM (SELECT type, last_error, count(*) AS n, max(finished_at) AS latest FROM recent GROUP BY type, last_error) g
                ORDER BY g.n DESC, g.latest DESC NULLS LAST, g.type LIMIT $2
                """, [sample, limit])
        }
        let groups = try rows.rows.map { row in
            FailureGroup(
                type: try row.string("type"), error: try row.optionalString("last_error"), count: try row.int("n"),
                latest: try row.optionalDate("latest"))
        }
        return (groups, try rows.rows.first?.int("sampled") ?? 0)
    }
}
