import Foundation

/// A task to publish, with the message generation that names its Nats-Msg-Id.
struct PublishTarget: Sendable, Equatable {
    var taskID: UUID
    var priority: TaskPriority
    var generation: Int
    /// Sent in the message's headers. Known where the task was just enqueued; the reconciler's
    /// later publishes go without (the task's row keeps it for the claim).
    var trace: TaskTrace?

    var messageID: String { "\(taskID.postgresText):\(generation)" }

    init(taskID: UUID, priority: TaskPriority, generation: Int, trace: TaskTrace? = nil) {
        self.taskID = taskID
        self.priority = priority
        self.generation = generation
        self.trace = trace
    }

    init(row: PostgresRow) throws {
        taskID = try row.uuid("id")
        priority = TaskPriority(rawValue: try row.string("priority")) ?? .normal
        generation = try row.int("publish_generation")
    }
}

/// Where one publish of a task landed in the stream, for `TaskStore.markPublished`.
struct PublishMark: Sendable {
    var taskID: UUID
    var sequence: UInt64
    var generation: Int
}
