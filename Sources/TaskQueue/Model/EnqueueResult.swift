/// The result of an enqueue: the task and whether this call created it.
public struct EnqueueResult: Sendable, Equatable {
    /// The task as stored.
    public var task: TaskRecord
    /// False when an idempotency key matched an existing task.
    public var created: Bool
}
