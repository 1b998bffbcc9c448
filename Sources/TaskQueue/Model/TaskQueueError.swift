import struct Foundation.UUID

/// An error raised by TaskFlow, with an extensible code and the context needed to act on it.
public struct TaskQueueError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new codes may be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// The code as text, such as `task_not_found`.
        public var description: String { rawValue }

        /// PostgreSQL could not be reached or the connection broke.
        public static let databaseUnavailable = Code(rawValue: "database_unavailable")
        /// PostgreSQL rejected a statement.
        public static let databaseError = Code(rawValue: "database_error")
        /// NATS could not be reached or an operation on it failed.
        public static let natsUnavailable = Code(rawValue: "nats_unavailable")
        /// A JetStream request was rejected (stream or consumer management, publish, fetch).
        public static let jetStreamError = Code(rawValue: "jetstream_error")
        /// An existing stream or consumer has a shape JetStream cannot change in place.
        public static let incompatibleStream = Code(rawValue: "incompatible_stream")
        /// No task has the given id.
        public static let taskNotFound = Code(rawValue: "task_not_found")
        /// The task is in a state that does not allow the operation.
        public static let invalidState = Code(rawValue: "invalid_state")
        /// An argument was out of range or malformed.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// An idempotency key was reused with different task content.
        public static let idempotencyConflict = Code(rawValue: "idempotency_conflict")
        /// A handler was registered twice under the same name.
        public static let duplicateHandler = Code(rawValue: "duplicate_handler")
        /// A migration failed or the migration files are inconsistent.
        public static let migrationFailed = Code(rawValue: "migration_failed")
        /// The payload could not be encoded or decoded.
        public static let payloadCoding = Code(rawValue: "payload_coding")
        /// No schedule has the given name.
        public static let scheduleNotFound = Code(rawValue: "schedule_not_found")
        /// A schedule of that name exists already.
        public static let scheduleExists = Code(rawValue: "schedule_exists")
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation.
    public let message: String
    /// The task concerned, when there is one.
    public let taskID: UUID?
    /// The status reported by the C library (nats.c status text or PostgreSQL SQLSTATE), when there is one.
    public let underlyingStatus: String?
    /// The argument at fault, for `invalidArgument` (for example `type` or `max_attempts`).
    public let field: String?

    /// An error with its code, explanation and whatever context applies.
    public init(_ code: Code, _ message: String, taskID: UUID? = nil, underlyingStatus: String? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.taskID = taskID
        self.underlyingStatus = underlyingStatus
        self.field = field
    }

    /// The code, the message and the context, on one line.
    public var description: String {
        var text = "\(code): \(message)"
        if let taskID { text += " (task \(taskID))" }
        if let underlyingStatus { text += " [\(underlyingStatus)]" }
        return text
    }
}
