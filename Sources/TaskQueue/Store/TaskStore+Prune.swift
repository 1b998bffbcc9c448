import Foundation

/// Retention: deleting finished tasks past their state's period, with their execution rows.
extension TaskStore {
    /// What one pruning pass deleted, by state; nil when another process held the pruner's lock.
    typealias PruneCounts = [TaskStatus: Int]

    /// Deletes finished tasks older than their state's period, in batches of `batchSize` (each
    /// its own short transaction), at most `maxBatches` per state. One process prunes at a time:
    /// the pass holds a session-level advisory lock (per schema) and gives up at once when another
    /// session holds it.
    ///
    /// A batch walks the primary key up to the smallest id of the cutoff's millisecond: ids are
    /// time-ordered, so a task finished before the cutoff was created before it, and what the
    /// walk passes over is only what is older than the cutoff and not yet finished (few).
    /// Tasks made before ids were time-ordered (random ids) are pruned only when their id falls
    /// below the bound. A pass also deletes per-second finish counts older than an hour, and
    /// subtracts what it deletes from the finished counts (`task_counts`).
    func prune(_ periods: [(TaskStatus, Duration)], batchSize: Int, maxBatches: Int, now: Date = Date()) async throws -> PruneCounts? {
        try await pool.withSession { session in
            let locked = try session.execute("SELECT pg_try_advisory_lock(hashtext('taskflow.pruner:' || current_schema())) AS locked")
            guard try locked.rows.first?.string("locked") == "t" else { return nil }
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(hashtext('taskflow.pruner:' || current_schema()))") }
            var counts: PruneCounts = [:]
            for (status, period) in periods {
                let cutoff = now.addingTimeInterval(-period.seconds)
                let bound = UUID.timeOrderedLowerBound(at: cutoff)
                var total = 0
                for _ in 0..<maxBatches {
                    let deleted = try session.execute(Self.pruneSQL, [bound, status.rawValue, cutoff, batchSize]).rows.count
                    total += deleted
                    if deleted < batchSize { break }
                }
                if total > 0 {
                    try session.execute(
                        """
                        INSERT INTO task_prune_stats (status, pruned, last_pruned_at) VALUES ($1, $2, now())
                        ON CONFLICT (status) DO UPDATE
                        SET pruned = task_prune_stats.pruned + EXCLUDED.pruned, last_pruned_at = EXCLUDED.last_pruned_at
                        """, [status.rawValue, total])
                }
                counts[status] = total
            }
            // Schedule fires: those older than the completed tasks' period (the tasks they link to
            // are gone), except each schedule's last few, which its reads show. A fire's key is
            // not needed to reject a repeat: a schedule's next fire time only moves forward.
            if let period = periods.first(where: { $0.0 == .completed })?.1 {
                for _ in 0..<maxBatches {
                    let deleted = try session.execute(
                        Self.pruneFiresSQL, [now.addingTimeInterval(-period.seconds), Self.lastFiresShown, batchSize]
                    ).rows.count
                    if deleted < batchSize { break }
                }
            }
            // Per-second finish counts older than the hour they are kept.
            try session.execute(
                "DELETE FROM task_finish_seconds WHERE second < now() - $1 * interval '1 second'", [Int(Self.finishSecondsKept.seconds)])
            return counts
        }
    }

    /// One batch: the oldest finished tasks of a state past the cutoff, locked (a task another
    /// statement holds is left for the next pass), their execution rows, then the tasks.
    static let pruneSQL = """
        WITH doomed AS MATERIALIZED (
            SELECT id FROM tasks
            WHERE id < $1::uuid AND status = $2 AND finished_at < $3::timestamptz
            ORDER BY id
            LIMIT $4
            FOR UPDATE SKIP LOCKED
        ), executions AS (
            DELETE FROM task_executions e WHERE e.task_id IN (SELECT id FROM doomed)
        ), deleted AS (
            DELETE FROM tasks t WHERE t.id IN (SELECT id FROM doomed)
            RETURNING t.id, t.status, t.priority
        ),
        \(counting("deleted", sign: -1))
        SELECT id FROM deleted
        """

    /// One batch of schedule fires past the cutoff, per schedule, keeping each schedule's last $2.
    static let pruneFiresSQL = """
        DELETE FROM schedule_fires d
        USING (
            SELECT f.schedule, f.fire_at FROM schedules s
            CROSS JOIN LATERAL (
                SELECT g.schedule, g.fire_at FROM schedule_fires g
                WHERE g.schedule = s.name AND g.fire_at < least($1::timestamptz, coalesce((
                    SELECT l.fire_at FROM schedule_fires l WHERE l.schedule = s.name ORDER BY l.fire_at DESC OFFSET $2 - 1 LIMIT 1
                ), '-infinity'))
                ORDER BY g.fire_at LIMIT $3
            ) f
        ) old
        WHERE d.schedule = old.schedule AND d.fire_at = old.fire_at
        RETURNING d.fire_at
        """

    /// Tasks pruned so far across the fleet, by state.
    func pruneTotals() async throws -> [TaskStatus: Int] {
        let rows = try await pool.withSession { session in try session.execute("SELECT status, pruned FROM task_prune_stats") }
        var totals: [TaskStatus: Int] = [:]
        for row in rows.rows {
            if let status = TaskStatus(rawValue: try row.string("status")) { totals[status] = try row.int("pruned") }
        }
        return totals
    }
}
