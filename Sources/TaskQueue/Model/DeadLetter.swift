import Foundation

/// The JSON message published on the dead-letter subject when a task fails for good:
/// `{"task_id", "type", "priority", "attempts", "last_error", "failed_at", "payload"}`, with the
/// task's payload embedded as JSON.
public struct DeadLetter: Sendable, Equatable {
    /// The failed task's id (`task_id`).
    public var taskID: UUID
    /// The task's type.
    public var type: String
    /// The task's priority.
    public var priority: TaskPriority
    /// Attempts the task made, across its whole life.
    public var attempts: Int
    /// The error its last attempt ended with (`last_error`).
    public var lastError: String?
    /// When the task failed for good (`failed_at`).
    public var failedAt: Date
    /// The task's payload, as JSON text.
    public var payload: String

    init(task: TaskRecord) {
        taskID = task.id
        type = task.type
        priority = task.priority
        attempts = task.attempts
        lastError = task.lastError
        failedAt = task.finishedAt ?? Date()
        payload = task.payload
    }

    /// The message as a JSON object (what is published, and what `js-info dlq --json` prints).
    public var jsonObject: [String: Any] {
        [
            "task_id": taskID.uuidString.lowercased(),
            "type": type,
            "priority": priority.rawValue,
            "attempts": attempts,
            "last_error": lastError ?? NSNull(),
            "failed_at": Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(failedAt),
            "payload": (try? JSONSerialization.jsonObject(with: Data(payload.utf8), options: [.fragmentsAllowed])) ?? NSNull(),
        ]
    }

    func encoded() throws -> Data {
        try JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys])
    }

    /// Decodes a dead letter read from the stream.
    public static func decode(_ data: [UInt8]) throws -> DeadLetter {
        guard let object = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
            let id = (object["task_id"] as? String).flatMap(UUID.init(uuidString:)),
            let type = object["type"] as? String,
            let priority = (object["priority"] as? String).flatMap(TaskPriority.init(rawValue:)),
            let attempts = object["attempts"] as? Int,
            let failedText = object["failed_at"] as? String,
            let failedAt = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(failedText)
        else {
            throw TaskQueueError(.payloadCoding, "not a TaskFlow dead letter")
        }
        let payload = try JSONSerialization.data(withJSONObject: object["payload"] ?? NSNull(), options: [.fragmentsAllowed, .sortedKeys])
        return DeadLetter(
            taskID: id, type: type, priority: priority, attempts: attempts, lastError: object["last_error"] as? String,
            failedAt: failedAt, payload: String(decoding: payload, as: UTF8.self))
    }

    init(taskID: UUID, type: String, priority: TaskPriority, attempts: Int, lastError: String?, failedAt: Date, payload: String) {
        self.taskID = taskID
        self.type = type
        self.priority = priority
        self.attempts = attempts
        self.lastError = lastError
        self.failedAt = failedAt
        self.payload = payload
    }
}
