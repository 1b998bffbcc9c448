import Foundation

/// Filters and a cursor for listing tasks newest first.
public struct TaskQuery: Sendable {
    /// Only tasks in this state.
    public var status: TaskStatus?
    /// Only tasks of this type.
    public var type: String?
    /// Only tasks of this priority.
    public var priority: TaskPriority?
    /// Tasks per page.
    public var limit: Int
    /// The `nextCursor` of the previous page.
    public var cursor: String?
    /// Only tasks created at or after this instant.
    public var createdAfter: Date?
    /// Only tasks created before this instant.
    public var createdBefore: Date?

    /// A query; with no arguments, the newest 50 tasks of any kind.
    public init(
        status: TaskStatus? = nil, type: String? = nil, priority: TaskPriority? = nil, limit: Int = 50, cursor: String? = nil,
        createdAfter: Date? = nil, createdBefore: Date? = nil
    ) {
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.status = status
        self.type = type
        self.priority = priority
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of tasks.
public struct TaskPage: Sendable {
    /// The tasks, newest first.
    public var tasks: [TaskRecord]
    /// Pass this as `cursor` to get the next page; nil on the last page.
    public var nextCursor: String?
}

/// How many tasks are in each state, by priority.
public struct TaskCounts: Sendable, Equatable {
    /// Tasks per state.
    public var byStatus: [TaskStatus: Int]
    /// Tasks per priority.
    public var byPriority: [TaskPriority: Int]
    /// Tasks per state and priority.
    public var byStatusAndPriority: [TaskStatus: [TaskPriority: Int]]
}
