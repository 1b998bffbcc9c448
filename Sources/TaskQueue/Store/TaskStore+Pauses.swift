import Foundation

/// Pausing priorities and task types (migration 011), and releasing the tasks held meanwhile.
extension TaskStore {
    /// What is paused now.
    func pauses() async throws -> TaskPauses { try await controls().pauses }

    /// Pauses (`paused`) or resumes a priority's or a type's tasks; true when that changed anything.
    func setPaused(kind: String, name: String, paused: Bool) async throws -> Bool {
        let rows = try await pool.withSession { session in
            try session.execute(
                paused
                    ? "INSERT INTO task_pauses (kind, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name"
                    : "DELETE FROM task_pauses WHERE kind = $1 AND name = $2 RETURNING name",
                [kind, name])
        }
        return !rows.rows.isEmpty
    }

    /// How many tasks are held (their type paused or over a limit), including those released and
    /// not yet claimed.
    func heldCount() async throws -> Int {
        try await pool.withSession { session in
            try session.execute("SELECT count(*) AS n FROM tasks WHERE held_at IS NOT NULL")
        }.rows.first?.int("n") ?? 0
    }

    /// A released task keeps `held_at` until a claim takes it; one published longer ago than this
    /// is taken for lost (its message never reached a worker) and released again.
    static let releaseGrace: Duration = .seconds(60)

    /// Releases up to `limit` waiting held tasks of `type` (oldest first), as far as the type has
    /// room: none while it is paused, and under limits no more than they allow beyond the tasks
    /// running, started in the rate's window and released already but not yet claimed. Each gets
    /// a new message generation and comes back to be published, in id order. A release may still
    /// find more room than a claim then does (two at once); the claim holds the extra tasks again.
    func releaseHeld(type: String, limit: Int) async throws -> [PublishTarget] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH lim AS (SELECT * FROM task_type_limits WHERE type = $1),
                on_the_way AS (
                    SELECT count(*) AS n FROM tasks w
                    WHERE w.held_at IS NOT NULL AND w.published_at IS NOT NULL AND w.type = $1
                      AND w.published_at > now() - $3 * interval '1 millisecond'
                ),
                room AS (
                    SELECT CASE
                        WHEN EXISTS (SELECT 1 FROM task_pauses p WHERE p.kind = 'type' AND p.name = $1) THEN 0
                        WHEN NOT EXISTS (SELECT 1 FROM lim) THEN $2::int
                        ELSE least(
                            $2::int,
                            coalesce((SELECT concurrency - (SELECT count(*) FROM task_type_running r JOIN tasks t ON t.id = r.task_id
                                                            WHERE r.type = $1 AND t.status = 'running') FROM lim), $2::int),
                            coalesce((SELECT rate_count - (SELECT count(*) FROM task_type_starts s
                                                           WHERE s.type = $1 AND s.started_at > now() - rate_per_seconds * interval '1 second') FROM lim), $2::int)
                        ) - (SELECT n FROM on_the_way)
                    END AS n
                )
                UPDATE tasks t SET publish_generation = t.publish_generation + 1, published_at = now(), publish_failed_at = NULL, updated_at = now()
                WHERE t.id IN (
                    SELECT id FROM tasks
                    WHERE held_at IS NOT NULL AND type = $1
                      AND (published_at IS NULL OR published_at <= now() - $3 * interval '1 millisecond')
                    ORDER BY id LIMIT greatest((SELECT n FROM room), 0) FOR UPDATE SKIP LOCKED
                )
                RETURNING t.id, t.priority, t.publish_generation, t.status
                """, [type, limit, Int(Self.releaseGrace.milliseconds)])
        }
        // RETURNING follows no order: published oldest first, so they run in the order they came.
        return try rows.rows.compactMap { row in
            // A held task cancelled meanwhile needs no message.
            ["queued", "retrying", "scheduled"].contains(try row.string("status")) ? try PublishTarget(row: row) : nil
        }.sorted { UUID.postgresOrder($0.taskID, $1.taskID) }
    }

    /// Types with held tasks that are not paused: a claim that read the pause just before a resume
    /// committed can hold a task after the resume released the rest, a released task's message
    /// can be lost, and a limited type's held tasks wait for room. One index probe per distinct
    /// held type.
    func releasableHeldTypes() async throws -> [String] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                WITH RECURSIVE held(type) AS (
                    (SELECT type FROM tasks WHERE held_at IS NOT NULL ORDER BY type LIMIT 1)
                    UNION ALL
                    SELECT (SELECT t.type FROM tasks t WHERE t.held_at IS NOT NULL AND t.type > h.type ORDER BY t.type LIMIT 1)
                    FROM held h WHERE h.type IS NOT NULL
                )
                SELECT type FROM held
                WHERE type IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task_pauses p WHERE p.kind = 'type' AND p.name = held.type)
                """)
        }
        return try rows.rows.map { try $0.string("type") }
    }
}
