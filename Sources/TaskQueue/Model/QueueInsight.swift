import Foundation

/// Tasks finished per time step over a recent window, oldest step first
/// (``TaskQueue/TaskQueue/finishedSeries(window:step:)``).
public struct FinishedSeries: Sendable, Equatable {
    /// The start of the first step (the database's clock).
    public var start: Date
    /// The length of each step.
    public var step: Duration
    /// Tasks completed in each step.
    public var completed: [Int]
    /// Tasks failed for good in each step.
    public var failed: [Int]
}

/// Failed tasks that share a type and an error (``TaskQueue/TaskQueue/failureGroups(sample:limit:)``).
public struct FailureGroup: Sendable, Equatable {
    /// The tasks' type.
    public var type: String
    /// The tasks' last error, exactly as recorded (nil when none was).
    public var error: String?
    /// How many of the sampled failed tasks are in this group.
    public var count: Int
    /// When the group's newest task failed.
    public var latest: Date?
}
