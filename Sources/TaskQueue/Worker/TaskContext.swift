import Foundation
import Logging

/// What a handler knows about the attempt it runs, and how it learns that it should stop.
public struct TaskContext: Sendable {
    /// The task's id.
    public let taskID: UUID
    /// The task's type.
    public let type: String
    /// The task's priority.
    public let priority: TaskPriority
    /// 1-based attempt number across the task's whole life.
    public let attempt: Int
    /// 1-based attempt number within the current run (a retry of a failed task starts a new run).
    public let attemptInRun: Int
    /// Attempts allowed in this run: the attempt budget.
    public let maxAttempts: Int
    /// When this attempt times out, if it has a timeout.
    public let deadline: ContinuousClock.Instant?
    /// The worker running the attempt.
    public let workerID: String
    private let workerLogger: Logger

    /// Whether this is the last attempt the budget allows.
    public var isLastAttempt: Bool { attemptInRun >= maxAttempts }

    /// A logger carrying the task's metadata (id, type, attempt). Made when read, so a task that
    /// logs nothing costs nothing; a handler that logs often can keep a copy.
    public var logger: Logger {
        var logger = workerLogger
        logger[metadataKey: LogKey.taskID] = .string(taskID.lowercasedText)
        logger[metadataKey: LogKey.taskType] = .string(type)
        logger[metadataKey: LogKey.attempt] = .stringConvertible(attempt)
        return logger
    }

    /// True once the attempt should stop: its timeout passed, the task's cancel was asked for
    /// (``TaskQueue/TaskQueue/cancel(_:)``) or the worker is shutting down past its grace.
    /// Cancellation is cooperative: long handlers check this (or call ``checkCancellation()``)
    /// between steps; `Task.sleep` and most async I/O stop by themselves.
    public var isCancelled: Bool { Task.isCancelled }

    /// Throws `CancellationError` once the attempt should stop (see ``isCancelled``). An attempt
    /// that ends this way is not counted as the handler's failure: a cancelled task ends
    /// cancelled, and one stopped by a timeout or a shutdown is retried.
    public func checkCancellation() throws {
        try Task.checkCancellation()
    }

    /// The context of a claimed task's attempt. `logger` is the worker's; the task's metadata is
    /// added to it when `logger` is read.
    init(task: TaskRecord, deadline: ContinuousClock.Instant?, workerID: String, logger: Logger) {
        self.init(
            taskID: task.id, type: task.type, priority: task.priority, attempt: task.attempts,
            attemptInRun: task.attempts - task.attemptBase, maxAttempts: task.maxAttempts, deadline: deadline,
            workerID: workerID, logger: logger)
    }

    /// A context made by hand, for unit tests of handlers and middleware; workers make their own.
    /// `attemptInRun` defaults to `attempt`.
    public init(
        taskID: UUID, type: String, priority: TaskPriority = .normal, attempt: Int = 1, attemptInRun: Int? = nil,
        maxAttempts: Int = 1, deadline: ContinuousClock.Instant? = nil, workerID: String = "test",
        logger: Logger = Logger(label: "taskflow.test")
    ) {
        self.taskID = taskID
        self.type = type
        self.priority = priority
        self.attempt = attempt
        self.attemptInRun = attemptInRun ?? attempt
        self.maxAttempts = maxAttempts
        self.deadline = deadline
        self.workerID = workerID
        self.workerLogger = logger
    }
}
