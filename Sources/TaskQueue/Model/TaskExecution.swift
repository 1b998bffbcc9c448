import Foundation

/// How one attempt ended (or that it is still running).
public enum ExecutionStatus: String, Sendable, Codable {
    /// The attempt is running.
    case started
    /// The handler returned normally.
    case succeeded
    /// The handler threw, timed out, was interrupted or its worker vanished.
    case failed
    /// A cancel request stopped the attempt (the task ended cancelled).
    case cancelled
}

/// One attempt of a task.
public struct TaskExecution: Sendable, Equatable {
    /// The task this attempt belongs to.
    public var taskID: UUID
    /// 1-based attempt number across the task's whole life.
    public var attempt: Int
    /// How the attempt ended.
    public var status: ExecutionStatus
    /// The error it ended with, if any.
    public var error: String?
    /// The worker that ran it.
    public var workerID: String
    /// When it started.
    public var startedAt: Date
    /// When it ended.
    public var finishedAt: Date?
    /// How long it ran.
    public var durationMilliseconds: Double?
}
