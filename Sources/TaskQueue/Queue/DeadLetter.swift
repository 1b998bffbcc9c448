import Foundation

/// The JSON message published on the dead-letter subject when a task fails for good.
public struct DeadLetter: Codable, Sendable, Equatable {
    public var taskID: UUID
    public var type: String
    public var priority: TaskPriority
    public var attempts: Int
    public var lastError: String?
    public var failedAt: Date
    /// The task's payload, as JSON text.
    public var payload: String

    enum CodingKeys: String, CodingKey {
        case taskID = "task_id", type, priority, attempts, lastError = "last_error", failedAt = "failed_at", payload
    }

    init(task: TaskRecord) {
        taskID = task.id
        type = task.type
        priority = task.priority
        attempts = task.attempts
        lastError = task.lastError
        failedAt = task.finishedAt ?? Date()
        payload = task.payload
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Decodes a dead letter read from the stream.
    public static func decode(_ data: [UInt8]) throws -> DeadLetter {
        try decoder.decode(DeadLetter.self, from: Data(data))
    }
}
