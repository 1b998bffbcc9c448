/// How urgent a task is; each priority has its own subject and consumer.
public enum TaskPriority: String, Sendable, Codable, CaseIterable, Comparable {
    /// Picked up first, even behind a deep backlog of lower priorities.
    case high
    /// The default.
    case normal
    /// Runs when nothing more urgent waits, and is never starved for long.
    case low

    /// Highest first.
    var rank: Int {
        switch self {
        case .high: 0
        case .normal: 1
        case .low: 2
        }
    }

    /// Higher priorities sort first.
    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool { lhs.rank < rhs.rank }
}
