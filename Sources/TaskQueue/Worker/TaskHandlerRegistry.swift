import Foundation
import Synchronization

/// Handlers by task type, with each type's retry strategy and timeout. Registering a name twice
/// is an error.
public final class TaskHandlerRegistry: Sendable {
    typealias Handler = @Sendable (_ payloadJSON: String, _ context: TaskContext) async throws -> Void

    /// A registered type: its handler and the policies that override the worker's.
    struct Entry: Sendable {
        let handler: Handler
        let retry: RetryStrategy?
        let timeout: Duration?
        var limits: TaskTypeLimits? = nil
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// An empty registry.
    public init() {}

    /// Registers the handler for a definition's tasks; the definition's retry strategy and
    /// timeout apply to them in place of the worker's, and its fleet-wide limits are declared when
    /// the worker starts. A payload that does not decode fails the task permanently (retrying
    /// cannot fix it).
    public func register<Payload>(
        _ definition: TaskDefinition<Payload>,
        handler: @escaping @Sendable (Payload, TaskContext) async throws -> Void
    ) throws {
        try definition.limits?.validate()
        try register(
            definition.name, payload: Payload.self, retry: definition.retry, timeout: definition.timeout, limits: definition.limits,
            handler: handler)
    }

    /// Registers a handler for a typed payload under a type name; `retry` and `timeout` override
    /// the worker's for this type, and `limits` are declared fleet-wide when the worker starts. A
    /// payload that does not decode fails the task permanently.
    public func register<Payload: Decodable & Sendable>(
        _ type: String,
        payload: Payload.Type = Payload.self,
        retry: RetryStrategy? = nil,
        timeout: Duration? = nil,
        limits: TaskTypeLimits? = nil,
        handler: @escaping @Sendable (Payload, TaskContext) async throws -> Void
    ) throws {
        try add(
            type,
            Entry(
                handler: { json, context in
                    let value: Payload
                    do {
                        value = try JSONDecoder().decode(Payload.self, from: Data(json.utf8))
                    } catch {
                        throw TerminalTaskError("payload does not decode as \(Payload.self): \(error)")
                    }
                    try await handler(value, context)
                }, retry: retry, timeout: timeout, limits: limits))
    }

    /// Registers a handler that receives the payload as JSON text (for dynamic types).
    public func registerJSON(
        _ type: String, retry: RetryStrategy? = nil, timeout: Duration? = nil, limits: TaskTypeLimits? = nil,
        handler: @escaping @Sendable (String, TaskContext) async throws -> Void
    ) throws {
        try add(type, Entry(handler: handler, retry: retry, timeout: timeout, limits: limits))
    }

    /// The registered type names.
    public var types: [String] { entries.withLock { $0.keys.sorted() } }

    func entry(for type: String) -> Entry? { entries.withLock { $0[type] } }

    /// The fleet-wide limits the registered types declare.
    var declaredLimits: [String: TaskTypeLimits] {
        entries.withLock { entries in entries.compactMapValues(\.limits) }
    }

    private func add(_ type: String, _ entry: Entry) throws {
        guard NewTask.isValidType(type) else {
            throw TaskQueueError(.invalidArgument, "task type must be 1-128 characters from [A-Za-z0-9._:-]", field: "type")
        }
        try entry.limits?.validate()
        try entries.withLock { entries in
            guard entries[type] == nil else {
                throw TaskQueueError(.duplicateHandler, "a handler for task type \(type) is already registered")
            }
            entries[type] = entry
        }
    }
}
