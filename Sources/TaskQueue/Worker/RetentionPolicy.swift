/// How long finished tasks are kept, per final state, before a worker's pruner deletes them with
/// their execution rows. `nil` keeps that state's tasks forever.
///
/// A task's idempotency key rejects duplicates for as long as the task is kept: at least its
/// state's retention period after it finished. After that the same key creates a new task.
public struct RetentionPolicy: Sendable, Equatable {
    /// Completed tasks (default 7 days).
    public var completed: Duration?
    /// Failed tasks (default 30 days): long enough to inspect and retry them.
    public var failed: Duration?
    /// Cancelled tasks (default 7 days).
    public var cancelled: Duration?

    /// A policy; the defaults are 7 days for completed and cancelled tasks, 30 for failed ones.
    public init(
        completed: Duration? = .seconds(7 * 86_400), failed: Duration? = .seconds(30 * 86_400),
        cancelled: Duration? = .seconds(7 * 86_400)
    ) {
        self.completed = completed
        self.failed = failed
        self.cancelled = cancelled
    }

    /// Keeps every task forever.
    public static var keepForever: RetentionPolicy { RetentionPolicy(completed: nil, failed: nil, cancelled: nil) }

    /// The states with a period, each with its period.
    var periods: [(TaskStatus, Duration)] {
        [(TaskStatus.completed, completed), (.failed, failed), (.cancelled, cancelled)].compactMap { status, period in
            period.map { (status, $0) }
        }
    }
}
