import Foundation
import Synchronization
import Tracing

/// A caller's PostgreSQL transaction (see ``TaskQueue/withTransaction(_:)``): its own statements
/// and its enqueues commit or roll back together.
public final class TaskTransaction: Sendable {
    private let connection: PostgresConnection
    private let defaultMaxAttempts: Int
    private let middleware: MiddlewareChain
    private let tracer: (any Tracer)?
    private let created = Mutex<[EnqueueResult]>([])

    init(connection: PostgresConnection, defaultMaxAttempts: Int, middleware: MiddlewareChain, tracer: (any Tracer)?) {
        self.connection = connection
        self.defaultMaxAttempts = defaultMaxAttempts
        self.middleware = middleware
        self.tracer = tracer
    }

    /// What this transaction enqueued, to publish once it commits.
    var enqueued: [EnqueueResult] { created.withLock { $0 } }

    /// Runs a parameterised statement (`$1`, `$2`, …) in the transaction; returns the rows as text.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) async throws -> [[String: String?]] {
        let rows = try await run { session in try session.execute(sql, parameters) }
        return rows.rows.map { row in
            Dictionary(uniqueKeysWithValues: zip(rows.columns, row.values))
        }
    }

    /// Enqueues a typed task in the transaction; it is published once the transaction commits.
    @discardableResult
    public func enqueue<Payload>(
        _ definition: TaskDefinition<Payload>, _ payload: Payload, priority: TaskPriority? = nil, runAt: Date? = nil,
        delay: Duration? = nil, idempotencyKey: String? = nil
    ) async throws -> EnqueueResult {
        try await enqueue(definition.task(payload, priority: priority, runAt: runAt, delay: delay, idempotencyKey: idempotencyKey))
    }

    /// Enqueues a task in the transaction; it is published once the transaction commits.
    @discardableResult
    public func enqueue(_ task: NewTask) async throws -> EnqueueResult {
        guard let tracer else { return try await enqueueUntraced(task) }
        return try await TaskTracing.enqueue(task, tracer: tracer) { try await enqueueUntraced($0) }
    }

    private func enqueueUntraced(_ task: NewTask) async throws -> EnqueueResult {
        let results = try await middleware.enqueue([task]) { tasks in try await self.insert(tasks) }
        guard let first = results.first else { throw TaskQueueError(.invalidArgument, "a middleware dropped the task") }
        return first
    }

    private func insert(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        for task in tasks { try task.validate() }
        let maxAttempts = defaultMaxAttempts
        let results = try await run { session in try TaskStore.insert(tasks, defaultMaxAttempts: maxAttempts, session: session) }
            .map { try $0.get() }
        created.withLock { $0 += results }
        return results
    }

    func commit() async throws {
        _ = try await run { session in try session.execute("COMMIT") }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await connection.withSession { session in
            // A reconnect would silently leave the transaction; refuse instead.
            guard session.inTransaction else {
                throw TaskQueueError(.databaseUnavailable, "the connection was lost during the transaction; it was rolled back")
            }
            return try body(session)
        }
    }
}
