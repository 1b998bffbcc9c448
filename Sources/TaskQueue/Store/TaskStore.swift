import Foundation

/// Every statement TaskFlow runs against PostgreSQL. Batch operations are set-based (arrays
/// unnested server-side), so many tasks cost one round trip and one durable commit.
///
/// The statements are grouped by who runs them: `TaskStore+Enqueue`, `TaskStore+Attempts` (workers),
/// `TaskStore+Reads` (the API and tools) and `TaskStore+Reconcile` (the reconciler).
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
        t.created_at, t.updated_at, t.started_at, t.finished_at, t.schedule, t.cancel_requested_at
        """
}
