import Foundation

extension TaskQueue {
    /// Enqueues a typed task: the definition's name, priority and attempts, `payload` encoded as
    /// JSON. With an idempotency key that exists already, returns that task instead.
    @discardableResult
    public func enqueue<Payload>(
        _ definition: TaskDefinition<Payload>, _ payload: Payload, priority: TaskPriority? = nil, runAt: Date? = nil,
        delay: Duration? = nil, idempotencyKey: String? = nil
    ) async throws -> EnqueueResult {
        try await enqueue(definition.task(payload, priority: priority, runAt: runAt, delay: delay, idempotencyKey: idempotencyKey))
    }

    /// Enqueues many typed tasks of one definition (see ``enqueueBatch(_:)-(_)``).
    @discardableResult
    public func enqueueBatch<Payload>(_ definition: TaskDefinition<Payload>, _ payloads: [Payload]) async throws -> [EnqueueResult] {
        try await enqueueBatch(payloads.map { try definition.task($0) })
    }

    /// Enqueues one task. With an idempotency key that exists already, returns that task instead.
    ///
    /// Concurrent calls share one INSERT, one commit and one publish burst (group commit), so many
    /// callers at once cost little more than one.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` (with ``TaskQueueError/field``) for a task
    ///   that fails ``NewTask/validate()``, `idempotencyConflict`, or a database error.
    @discardableResult
    public func enqueue(_ task: NewTask) async throws -> EnqueueResult {
        guard let tracer else { return try await enqueueUntraced(task) }
        return try await TaskTracing.enqueue(task, tracer: tracer) { try await enqueueUntraced($0) }
    }

    private func enqueueUntraced(_ task: NewTask) async throws -> EnqueueResult {
        guard !middleware.isEmpty else {
            try task.validate()
            return try await enqueueBatcher.submit(task).get()
        }
        let batcher = enqueueBatcher
        let results = try await middleware.enqueue([task]) { tasks in
            var results: [EnqueueResult] = []
            for task in tasks {
                try task.validate()
                results.append(try await batcher.submit(task).get())
            }
            return results
        }
        guard let first = results.first else { throw TaskQueueError(.invalidArgument, "a middleware dropped the task") }
        return first
    }

    /// Enqueues a task whose payload is any `Encodable` value, by type name (for dynamic types;
    /// typed code uses a ``TaskDefinition``).
    @discardableResult
    public func enqueue<Payload: Encodable>(
        _ type: String, payload: Payload, priority: TaskPriority = .normal, maxAttempts: Int? = nil,
        runAt: Date? = nil, delay: Duration? = nil, idempotencyKey: String? = nil
    ) async throws -> EnqueueResult {
        try await enqueue(
            NewTask(
                type: type, payload: payload, priority: priority, maxAttempts: maxAttempts,
                runAt: runAt, delay: delay, idempotencyKey: idempotencyKey))
    }

    /// Enqueues many tasks: one INSERT per chunk of a thousand, then one asynchronous publish burst
    /// per chunk, with up to three chunks in flight on their own connections (so one chunk's
    /// publish overlaps the next one's INSERT). Results come back in the order of `tasks`; the
    /// stream may receive the chunks in a different order. Every task that could be created is
    /// created and published; the first failure is then thrown.
    @discardableResult
    public func enqueueBatch(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        guard let tracer else { return try await enqueueBatchUntraced(tasks) }
        return try await TaskTracing.enqueueBatch(tasks, tracer: tracer) { try await enqueueBatchUntraced($0) }
    }

    private func enqueueBatchUntraced(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        guard !middleware.isEmpty else { return try await writeBatch(tasks) }
        return try await middleware.enqueue(tasks) { try await self.writeBatch($0) }
    }

    private func writeBatch(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        for task in tasks { try task.validate() }
        let chunks = stride(from: 0, to: tasks.count, by: 1000).map { Array(tasks[$0..<min($0 + 1000, tasks.count)]) }
        var byChunk = [[Result<EnqueueResult, TaskQueueError>]](repeating: [], count: chunks.count)
        let inFlight = max(1, min(3, configuration.postgres.poolSize))
        let inserter = self.inserter
        await withTaskGroup(of: (Int, [Result<EnqueueResult, TaskQueueError>]).self) { group in
            var next = 0
            func startNext() {
                guard next < chunks.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await inserter.insertAndPublish(chunks[index])) }
            }
            for _ in 0..<inFlight { startNext() }
            for await (index, results) in group {
                byChunk[index] = results
                startNext()
            }
        }
        var results: [EnqueueResult] = []
        results.reserveCapacity(tasks.count)
        var firstFailure: TaskQueueError?
        for result in byChunk.joined() {
            switch result {
            case .success(let value): results.append(value)
            case .failure(let error): firstFailure = firstFailure ?? error
            }
        }
        if let firstFailure { throw firstFailure }
        return results
    }

    /// Runs `body` in one PostgreSQL transaction; tasks it enqueues are published only after it
    /// commits, and not at all when it throws.
    public func withTransaction<T: Sendable>(_ body: (TaskTransaction) async throws -> T) async throws -> T {
        let connection = await pool.acquire()
        let transaction = TaskTransaction(
            connection: connection, defaultMaxAttempts: configuration.defaultMaxAttempts,
            middleware: middleware, tracer: tracer)
        let value: T
        do {
            try await connection.withSession { try $0.execute("BEGIN") }
            value = try await body(transaction)
            try await transaction.commit()
        } catch {
            _ = try? await connection.withSession { session in
                if session.inTransaction { try session.execute("ROLLBACK") }
            }
            await pool.release(connection)
            throw error
        }
        await pool.release(connection)
        await inserter.publishCommitted(transaction.enqueued)
        return value
    }
}
