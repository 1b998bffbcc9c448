import Logging

/// The dot-keyed metadata names TaskFlow logs with, in one place.
enum LogKey {
    static let taskID = "task.id"
    static let taskType = "task.type"
    static let taskPriority = "task.priority"
    static let attempt = "task.attempt"
    static let subject = "nats.subject"
    static let streamSequence = "nats.stream_seq"
    static let deliveries = "nats.deliveries"
    static let workerID = "worker.id"
    static let error = "error"
    static let count = "count"
    static let migrations = "db.migrations"
}
