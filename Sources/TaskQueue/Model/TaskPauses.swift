/// What is paused across the fleet (``TaskQueue/TaskQueue/pause(_:)``, ``TaskQueue/TaskQueue/pause(type:)``).
public struct TaskPauses: Sendable, Equatable {
    /// Paused priorities: their messages are not fetched.
    public var priorities: Set<TaskPriority> = []
    /// Paused task types: their tasks are held when claimed, until the type is resumed.
    public var types: Set<String> = []

    /// Nothing paused.
    public init() {}

    /// Whether nothing is paused.
    public var isEmpty: Bool { priorities.isEmpty && types.isEmpty }
}
