import Foundation

/// A periodic task: what to enqueue (type, payload, priority, attempts) and when (a
/// ``CronExpression`` read in a time zone).
///
/// Declare schedules in code (``WorkerConfiguration/schedules``, saved when a worker starts: the
/// same declaration again changes nothing, a changed one updates the stored schedule) or manage
/// them at run time (``TaskQueue/createSchedule(_:)`` and the REST API). Each fire creates one
/// task however many workers run: the fire's identity (schedule, fire time) is a unique key.
public struct Schedule: Sendable, Equatable {
    /// Unique name; tasks the schedule creates carry it (``TaskRecord/schedule``).
    public var name: String
    /// When it fires.
    public var cron: CronExpression
    /// The time zone the cron fields are read in (intervals ignore it).
    public var timeZone: TimeZone
    /// The task type each fire enqueues.
    public var type: String
    /// The payload of each task, as JSON text.
    public var payloadJSON: String
    /// The priority of each task.
    public var priority: TaskPriority
    /// Attempts per task; nil for the queue's default.
    public var maxAttempts: Int?
    /// What happens to fires missed while no worker ran.
    public var missed: MissedFirePolicy

    /// Longest schedule name.
    public static let maxNameLength = 128

    /// Whether `name` can name a schedule: 1-128 Unicode scalars, no '/' and no control characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.count <= maxNameLength
            && !name.unicodeScalars.contains { $0 == "/" || $0.properties.generalCategory == .control }
    }

    /// A schedule of a task given by type name and JSON payload. Throws ``TaskQueueError`` with
    /// code `invalid_argument`, its message naming the field, for a bad name, expression, time
    /// zone, type, payload or attempt count.
    public init(
        _ name: String, cron: String, timeZone: String = "UTC", type: String, payloadJSON: String = "null",
        priority: TaskPriority = .normal, maxAttempts: Int? = nil, missed: MissedFirePolicy = .skip
    ) throws {
        guard Self.isValidName(name) else {
            throw TaskQueueError(.invalidArgument, "a schedule name is 1-\(Self.maxNameLength) characters, without '/' or control characters", field: "name")
        }
        let expression: CronExpression
        do {
            expression = try CronExpression(cron)
        } catch let error as CronExpressionError {
            throw TaskQueueError(.invalidArgument, "\(error.message)", field: "cron")
        }
        guard let zone = TimeZone(identifier: timeZone) else {
            throw TaskQueueError(.invalidArgument, "\(timeZone) is not an IANA time zone (such as UTC or Europe/Paris)", field: "timezone")
        }
        guard NewTask.isValidType(type) else {
            throw TaskQueueError(.invalidArgument, "a task type is 1-128 letters, digits, '.', '_', ':' or '-'", field: "type")
        }
        guard (try? JSONSerialization.jsonObject(with: Data(payloadJSON.utf8), options: .fragmentsAllowed)) != nil else {
            throw TaskQueueError(.invalidArgument, "payload is not valid JSON", field: "payload")
        }
        if let maxAttempts, !NewTask.maxAttemptsRange.contains(maxAttempts) {
            throw TaskQueueError(.invalidArgument, "max_attempts must be between 1 and 100", field: "max_attempts")
        }
        self.name = name
        self.cron = expression
        self.timeZone = zone
        self.type = type
        self.payloadJSON = payloadJSON
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.missed = missed
    }

    /// A schedule of a typed task: the definition's name, priority and attempts, and `payload`.
    public init<Payload>(
        _ name: String, cron: String, timeZone: String = "UTC", definition: TaskDefinition<Payload>, payload: Payload,
        missed: MissedFirePolicy = .skip
    ) throws {
        let task = try definition.task(payload)
        try self.init(
            name, cron: cron, timeZone: timeZone, type: task.type, payloadJSON: task.payloadJSON, priority: task.priority,
            maxAttempts: task.maxAttempts, missed: missed)
    }

    /// The task one fire enqueues.
    var task: NewTask {
        NewTask(type: type, payloadJSON: payloadJSON, priority: priority, maxAttempts: maxAttempts)
    }
}

/// What a schedule does with the fires it missed while no worker ran (a fire found more than
/// 5 seconds late counts as missed).
public enum MissedFirePolicy: String, Sendable, Codable, CaseIterable {
    /// Leave them out; the schedule fires next at its next time.
    case skip
    /// One catch-up run for all of them, at once, then on time again. Never a burst.
    case once
}

/// A schedule as stored, with its next and last fires.
public struct ScheduleRecord: Sendable {
    /// The schedule.
    public var schedule: Schedule
    /// A paused schedule does not fire; its missed fires are not caught up on resume.
    public var paused: Bool
    /// The next fire times (five; none while paused).
    public var nextFires: [Date]
    /// The most recent fires, newest first (ten at most).
    public var lastFires: [ScheduleFire]
    /// When the schedule was created.
    public var createdAt: Date
    /// When the schedule last changed.
    public var updatedAt: Date
}

/// One fire of a schedule and the task it created.
public struct ScheduleFire: Sendable, Equatable {
    /// The fire time (for a manual trigger, when it was triggered).
    public var fireAt: Date
    /// The task the fire created.
    public var taskID: UUID
    /// True for a trigger by hand (``TaskQueue/triggerSchedule(named:)``).
    public var manual: Bool
    /// When the task was created.
    public var firedAt: Date
}
