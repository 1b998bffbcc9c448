import Foundation

/// How urgent a task is; each priority has its own subject and consumer.
public enum TaskPriority: String, Sendable, Codable, CaseIterable, Comparable {
    case high, normal, low

    /// Highest first.
    var rank: Int {
        switch self {
        case .high: 0
        case .normal: 1
        case .low: 2
        }
    }

    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool { lhs.rank < rhs.rank }
}

/// Where a task is in its life.
public enum TaskStatus: String, Sendable, Codable, CaseIterable {
    case scheduled, queued, running, retrying, completed, failed, cancelled

    /// No further attempt will happen without an explicit replay.
    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// A task as PostgreSQL holds it.
public struct TaskRecord: Sendable, Equatable {
    public var id: UUID
    public var type: String
    /// The payload as JSON text.
    public var payload: String
    public var priority: TaskPriority
    public var status: TaskStatus
    public var attempts: Int
    /// Attempts allowed in the current run (a replay grants them afresh).
    public var maxAttempts: Int
    /// Attempts made before the current run (0 unless the task was replayed).
    public var attemptBase: Int
    public var runAt: Date
    public var idempotencyKey: String?
    public var lastError: String?
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var publishedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    /// Decodes the payload into `T`.
    public func decodePayload<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(payload.utf8))
    }
}

/// How one attempt ended (or that it is still running).
public enum ExecutionStatus: String, Sendable, Codable {
    case started, succeeded, failed
}

/// One attempt of a task.
public struct TaskExecution: Sendable, Equatable {
    public var taskID: UUID
    public var attempt: Int
    public var status: ExecutionStatus
    public var error: String?
    public var workerID: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMilliseconds: Double?
}

/// What to enqueue.
public struct NewTask: Sendable {
    public var type: String
    /// JSON text of the payload.
    public var payloadJSON: String
    public var priority: TaskPriority
    public var maxAttempts: Int?
    /// When the task may run; nil or a past time means now.
    public var runAt: Date?
    /// Same key, same task: a repeat returns the existing task instead of adding a row.
    public var idempotencyKey: String?

    /// A task with a raw JSON payload (validated before it is stored).
    public init(type: String, payloadJSON: String = "{}", priority: TaskPriority = .normal, maxAttempts: Int? = nil,
                runAt: Date? = nil, idempotencyKey: String? = nil) {
        self.type = type
        self.payloadJSON = payloadJSON
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.idempotencyKey = idempotencyKey
    }

    /// A task whose payload is any `Encodable` value.
    public init<P: Encodable>(type: String, payload: P, priority: TaskPriority = .normal, maxAttempts: Int? = nil,
                              runAt: Date? = nil, delay: Duration? = nil, idempotencyKey: String? = nil) throws {
        let data: Data
        do { data = try JSONEncoder().encode(payload) } catch {
            throw TaskQueueError(.payloadCoding, "cannot encode payload for \(type): \(error)")
        }
        let when = runAt ?? delay.map { Date().addingTimeInterval($0.seconds) }
        self.init(type: type, payloadJSON: String(decoding: data, as: UTF8.self), priority: priority,
                  maxAttempts: maxAttempts, runAt: when, idempotencyKey: idempotencyKey)
    }

    /// Whether `type` is a valid task type name: 1-128 characters from `[A-Za-z0-9._:-]`.
    public static func isValidType(_ type: String) -> Bool {
        let utf8 = type.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
            default: false
            }
        }
    }
}

/// The result of an enqueue: the task and whether this call created it.
public struct EnqueueResult: Sendable, Equatable {
    public var task: TaskRecord
    /// False when an idempotency key matched an existing task.
    public var created: Bool
}

/// Filters and a cursor for listing tasks newest first.
public struct TaskQuery: Sendable {
    public var status: TaskStatus?
    public var type: String?
    public var priority: TaskPriority?
    public var limit: Int
    /// The `nextCursor` of the previous page.
    public var cursor: String?

    public init(status: TaskStatus? = nil, type: String? = nil, priority: TaskPriority? = nil, limit: Int = 50, cursor: String? = nil) {
        self.status = status
        self.type = type
        self.priority = priority
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of tasks.
public struct TaskPage: Sendable {
    public var tasks: [TaskRecord]
    /// Pass this as `cursor` to get the next page; nil on the last page.
    public var nextCursor: String?
}

/// How many tasks are in each state, by priority.
public struct TaskCounts: Sendable, Equatable {
    public var byStatus: [TaskStatus: Int]
    public var byPriority: [TaskPriority: Int]
    public var byStatusAndPriority: [TaskStatus: [TaskPriority: Int]]
}
