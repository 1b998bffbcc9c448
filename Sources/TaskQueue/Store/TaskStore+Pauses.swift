import Foundation

/// Pausing priorities and task types (migration 011), and releasing the tasks held meanwhile.
extension TaskStore {
    /// What is paused now.
    func pauses() async throws -> TaskPauses {
        let rows = try await pool.withSession { session in try session.execute("SELECT kind, name FROM task_pauses") }
        var pauses = TaskPauses()
        for row in rows.rows {
            let name = try row.string("name")
            switch try row.string("kind") {
            case "priority": if let priority = TaskPriority(rawValue: name) { pauses.priorities.insert(priority) }
            default: pauses.types.insert(name)
            }
        }
        return pauses
    }

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

    /// How many tasks are held because their type is paused (or was, until they are released).
    func heldCount() async throws -> Int {
        try await pool.withSession { session in
            try session.execute("SELECT count(*) AS n FROM tasks WHERE held_at IS NOT NULL")
        }.rows.first?.int("n") ?? 0
    }

    /// Releases up to `limit` held tasks of `type` (oldest first) unless the type is paused: each
    /// gets a new message generation and comes back to be published, in id order.
    func releaseHeld(type: String, limit: Int) async throws -> [PublishTarget] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                UPDATE tasks t SET held_at = NULL, publish_generation = t.publish_generation + 1, updated_at = now()
                WHERE t.id IN (
                    SELECT id FROM tasks
                    WHERE held_at IS NOT NULL AND type = $1
                      AND NOT EXISTS (SELECT 1 FROM task_pauses p WHERE p.kind = 'type' AND p.name = $1)
                    ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
                )
                RETURNING t.id, t.priority, t.publish_generation, t.status
                """, [type, limit])
        }
        // RETURNING follows no order: published oldest first, so they run in the order they came.
        return try rows.rows.compactMap { row in
            // A held task cancelled meanwhile needs no message.
            ["queued", "retrying", "scheduled"].contains(try row.string("status")) ? try PublishTarget(row: row) : nil
        }.sorted { UUID.postgresOrder($0.taskID, $1.taskID) }
    }

    /// Types with held tasks that are not paused: a claim that read the pause just before a resume
    /// committed can hold a task after the resume released the rest. One index probe per distinct
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
