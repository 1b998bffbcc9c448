import Foundation

/// A task as PostgreSQL holds it.
public struct TaskRecord: Sendable, Equatable {
    /// Time-ordered (UUIDv7-style): newer tasks have larger ids.
    public var id: UUID
    /// The task type: the name a handler is registered under.
    public var type: String
    /// The payload as JSON text.
    public var payload: String
    /// The task's priority.
    public var priority: TaskPriority
    /// Where the task is in its life.
    public var status: TaskStatus
    /// Attempts made so far, across the task's whole life (1-based once started).
    public var attempts: Int
    /// Attempts allowed in the current run (a retry of a failed task grants them afresh).
    public var maxAttempts: Int
    /// Attempts made before the current run (0 unless the task was retried after failing).
    public var attemptBase: Int
    /// When the task may run (or next runs, after a backoff).
    public var runAt: Date
    /// The key that makes repeated enqueues return this task.
    public var idempotencyKey: String?
    /// The last attempt's error.
    public var lastError: String?
    /// The worker holding the task's lease while it runs.
    public var leaseOwner: String?
    /// When that lease ends unless renewed.
    public var leaseExpiresAt: Date?
    /// When the work stream was recorded to hold the task's message. See ``isPublished``.
    public var publishedAt: Date?
    /// When an enqueue's publish failed; the reconciler publishes the task once NATS answers.
    public var publishFailedAt: Date?
    /// When the task was created.
    public var createdAt: Date
    /// When the row last changed.
    public var updatedAt: Date
    /// When the first attempt started.
    public var startedAt: Date?
    /// When the task reached a terminal state.
    public var finishedAt: Date?
    /// The schedule that created the task, if one did.
    public var schedule: String?
    /// When a cancel was asked for while the task ran (``TaskQueue/TaskQueue/cancel(_:)``); the
    /// task ends `cancelled` once its worker stops the attempt.
    public var cancelRequestedAt: Date?
    /// The trace the task was enqueued in: known to the enqueue and the claim, not to other reads.
    var trace: TaskTrace? = nil

    /// Whether the task's message was handed to the work stream: false only while the task waits
    /// for the reconciler to publish it (its publish failed, or it is scheduled for later and
    /// not yet due). The enqueue's answer and every later read give the same value.
    public var isPublished: Bool {
        if publishedAt != nil { return true }
        switch status {
        case .scheduled: return false
        case .queued, .retrying: return publishFailedAt == nil
        case .running, .completed, .failed, .cancelled: return true
        }
    }

    /// Decodes the payload into `T`.
    public func decodePayload<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(payload.utf8))
    }
}
