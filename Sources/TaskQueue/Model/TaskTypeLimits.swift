import Foundation

/// Fleet-wide limits on one task type: how many may run at once across every worker and process,
/// and how many attempts may start within a time window. Enforced in PostgreSQL when a worker
/// claims a task; a task over a limit waits, held without spending an attempt, and is released as
/// soon as the limit allows.
///
/// ```swift
/// let report = TaskDefinition<Report>("report.generate", limits: TaskTypeLimits(concurrency: 5))
/// let webhook = TaskDefinition<Hook>("webhook", limits: TaskTypeLimits(rate: .init(count: 100, per: .seconds(60))))
/// ```
public struct TaskTypeLimits: Sendable, Equatable, Hashable {
    /// At most `count` attempts start in any window of `per` (whole seconds, 1 s to 1 day).
    public struct Rate: Sendable, Equatable, Hashable {
        /// Attempts allowed to start in one window.
        public var count: Int
        /// The window.
        public var per: Duration

        /// `count` starts per `per`.
        public init(count: Int, per: Duration) {
            self.count = count
            self.per = per
        }

        /// The window in whole seconds.
        public var seconds: Int { Int(per.components.seconds) }
    }

    /// At most this many tasks of the type run at once, fleet-wide.
    public var concurrency: Int?
    /// At most this many attempts of the type start per window, fleet-wide.
    public var rate: Rate?

    /// Limits with either or both bounds.
    public init(concurrency: Int? = nil, rate: Rate? = nil) {
        self.concurrency = concurrency
        self.rate = rate
    }

    /// The largest bound either limit takes.
    public static let maximum = 1_000_000

    /// Throws `invalidArgument` naming the field for limits that cannot be stored.
    public func validate() throws {
        guard concurrency != nil || rate != nil else {
            throw TaskQueueError(.invalidArgument, "limits need a concurrency, a rate or both", field: "concurrency")
        }
        if let concurrency, !(1...Self.maximum).contains(concurrency) {
            throw TaskQueueError(.invalidArgument, "concurrency must be between 1 and \(Self.maximum)", field: "concurrency")
        }
        if let rate {
            guard (1...Self.maximum).contains(rate.count) else {
                throw TaskQueueError(.invalidArgument, "rate count must be between 1 and \(Self.maximum)", field: "rate.count")
            }
            guard rate.per.components.attoseconds == 0, (1...86_400).contains(rate.per.components.seconds) else {
                throw TaskQueueError(.invalidArgument, "rate per_seconds must be a whole number of seconds from 1 to 86400", field: "rate.per_seconds")
            }
        }
    }

    /// A stable text of the limits, to tell whether code declares what it declared before.
    var declaration: String {
        "concurrency=\(concurrency.map(String.init) ?? "-") rate=\(rate.map { "\($0.count)/\($0.seconds)s" } ?? "-")"
    }
}

/// A type's limits as stored, with what they bound now.
public struct TaskTypeLimitState: Sendable, Equatable {
    /// The task type.
    public var type: String
    /// Its limits.
    public var limits: TaskTypeLimits
    /// Tasks of the type running now, fleet-wide.
    public var running: Int
    /// Attempts of the type started within the rate's window (nil without a rate).
    public var startedInWindow: Int?
    /// Tasks of the type waiting, held over a limit or by a pause (including those released and on
    /// their way to a worker).
    public var held: Int
    /// When the limits were last set.
    public var updatedAt: Date
}

/// Which tasks a bulk action touches: every given filter must match (at least one is required).
public struct TaskSelection: Sendable, Equatable {
    /// Only tasks in this state.
    public var status: TaskStatus?
    /// Only tasks of this type.
    public var type: String?
    /// Only tasks of this priority.
    public var priority: TaskPriority?
    /// Only tasks this schedule created.
    public var schedule: String?
    /// Only tasks created at or after this instant.
    public var createdAfter: Date?
    /// Only tasks created before this instant.
    public var createdBefore: Date?
    /// Only tasks whose last error is exactly this text (a failure group of the dashboard).
    public var error: String?

    /// A selection; set at least one filter.
    public init(
        status: TaskStatus? = nil, type: String? = nil, priority: TaskPriority? = nil, schedule: String? = nil,
        createdAfter: Date? = nil, createdBefore: Date? = nil, error: String? = nil
    ) {
        self.status = status
        self.type = type
        self.priority = priority
        self.schedule = schedule
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.error = error
    }

    /// Whether no filter is set (a bulk action refuses that, rather than touch every task).
    public var isEmpty: Bool {
        status == nil && type == nil && priority == nil && schedule == nil && createdAfter == nil && createdBefore == nil && error == nil
    }
}

/// What a bulk cancel did.
public struct CancelSummary: Sendable, Equatable {
    /// Tasks that had not started and are now cancelled.
    public var cancelled: Int
    /// Running tasks whose workers were asked to stop them (they end cancelled within about a second).
    public var cancelRequested: Int
}
