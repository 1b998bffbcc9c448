import Foundation
import Logging
import Synchronization

/// What a handler knows about the attempt it runs.
public struct TaskContext: Sendable {
    public let taskID: UUID
    public let type: String
    public let priority: TaskPriority
    /// 1-based attempt number across the task's whole life.
    public let attempt: Int
    /// Attempts allowed in this run.
    public let maxAttempts: Int
    public let workerID: String
    private let workerLogger: Logger

    /// A logger carrying the task's metadata (id, type, attempt). Made when read, so a task that
    /// logs nothing costs nothing; a handler that logs often can keep a copy.
    public var logger: Logger {
        var logger = workerLogger
        logger[metadataKey: LogKey.taskID] = .string(taskID.lowercasedText)
        logger[metadataKey: LogKey.taskType] = .string(type)
        logger[metadataKey: LogKey.attempt] = .stringConvertible(attempt)
        return logger
    }

    /// `logger` is the worker's; the task's metadata is added to it when `logger` is read.
    init(taskID: UUID, type: String, priority: TaskPriority, attempt: Int, maxAttempts: Int, workerID: String, logger: Logger) {
        self.taskID = taskID
        self.type = type
        self.priority = priority
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.workerID = workerID
        self.workerLogger = logger
    }
}

/// Thrown by a handler when retrying cannot help: the task fails at once and goes to the DLQ.
public struct TerminalTaskError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Handlers by task type. Registering a name twice is an error.
public final class TaskHandlerRegistry: Sendable {
    typealias Handler = @Sendable (_ payloadJSON: String, _ context: TaskContext) async throws -> Void
    private let handlers = Mutex<[String: Handler]>([:])

    public init() {}

    /// Registers a handler for a typed payload; a payload that does not decode fails the task
    /// permanently (retrying cannot fix it).
    public func register<Payload: Decodable & Sendable>(
        _ type: String,
        payload: Payload.Type = Payload.self,
        handler: @escaping @Sendable (Payload, TaskContext) async throws -> Void
    ) throws {
        try add(type) { json, context in
            let value: Payload
            do {
                value = try JSONDecoder().decode(Payload.self, from: Data(json.utf8))
            } catch {
                throw TerminalTaskError("payload does not decode as \(Payload.self): \(error)")
            }
            try await handler(value, context)
        }
    }

    /// Registers a handler that receives the payload as JSON text.
    public func registerJSON(_ type: String, handler: @escaping @Sendable (String, TaskContext) async throws -> Void) throws {
        try add(type, handler)
    }

    /// The registered type names.
    public var types: [String] { handlers.withLock { $0.keys.sorted() } }

    func handler(for type: String) -> Handler? { handlers.withLock { $0[type] } }

    private func add(_ type: String, _ handler: @escaping Handler) throws {
        try handlers.withLock { handlers in
            guard handlers[type] == nil else {
                throw TaskQueueError(.duplicateHandler, "a handler for task type \(type) is already registered")
            }
            handlers[type] = handler
        }
    }
}
