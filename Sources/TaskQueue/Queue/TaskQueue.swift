import Foundation
import Logging
import Synchronization

/// TaskFlow's entry point: enqueue tasks, read them back, cancel and replay them. Workers
/// (`TaskWorker`) run on top of one.
///
/// A task's row is committed before its id is published; when publishing fails the task stays
/// queued and unpublished, and a worker's reconciler publishes it later.
public final class TaskQueue: Sendable {
    public let configuration: TaskQueueConfiguration
    let pool: PostgresPool
    let store: TaskStore
    let nats: NATSClient
    let logger: Logger
    private let provisioned = Mutex(false)
    private let enqueueBatcher = EnqueueBatcher()

    /// Connects to PostgreSQL (applying migrations) and NATS. Streams and consumers are provisioned
    /// now when NATS answers, and otherwise on first use, so an API can start while NATS is down.
    public static func connect(configuration: TaskQueueConfiguration, logger: Logger = Logger(label: "taskflow")) async throws -> TaskQueue {
        let pool = PostgresPool(configuration: configuration.postgres)
        if configuration.runMigrations {
            let directory = try configuration.migrationsDirectory ?? Migrator.defaultDirectory()
            try await Migrator.migrate(Migrator.load(from: directory), pool: pool, schema: configuration.postgres.schema, logger: logger)
        }
        let nats = try NATSClient(configuration: configuration.nats)
        let queue = TaskQueue(configuration: configuration, pool: pool, nats: nats, logger: logger)
        do {
            try await queue.provision()
        } catch {
            logger.warning("JetStream not provisioned yet; will retry on first use", metadata: [LogKey.error: "\(error)"])
        }
        return queue
    }

    init(configuration: TaskQueueConfiguration, pool: PostgresPool, nats: NATSClient, logger: Logger) {
        self.configuration = configuration
        self.pool = pool
        self.store = TaskStore(pool: pool)
        self.nats = nats
        self.logger = logger
    }

    /// Creates or checks the work stream, the dead-letter stream and one consumer per priority.
    /// Safe to call from many processes at once.
    public func provision() async throws {
        let config = configuration
        try await nats.ensureStream(StreamSpec(
            name: config.streamName,
            subjects: TaskPriority.allCases.map(config.subject(for:)),
            workQueue: true,
            replicas: config.replicas,
            duplicateWindow: config.duplicateWindow,
            maxAge: .zero
        ))
        try await nats.ensureStream(StreamSpec(
            name: config.deadLetterStreamName,
            subjects: [config.deadLetterSubject],
            workQueue: false,
            replicas: config.replicas,
            duplicateWindow: config.duplicateWindow,
            maxAge: config.deadLetterRetention
        ))
        for priority in TaskPriority.allCases {
            try await nats.ensureConsumer(ConsumerSpec(
                stream: config.streamName,
                name: config.consumer(for: priority),
                filterSubject: config.subject(for: priority),
                ackWait: config.lease,
                maxAckPending: config.maxAckPending
            ))
        }
        provisioned.withLock { $0 = true }
    }

    var isProvisioned: Bool { provisioned.withLock { $0 } }

    // MARK: Enqueue

    /// Enqueues one task. With an idempotency key that exists already, returns that task instead.
    ///
    /// Concurrent calls share one INSERT, one commit and one publish burst (group commit), so many
    /// callers at once cost little more than one.
    @discardableResult
    public func enqueue(_ task: NewTask) async throws -> EnqueueResult {
        try Self.validate(task)
        return try await enqueueBatcher.submit(task, to: self).get()
    }

    /// Enqueues a task whose payload is any `Encodable` value.
    @discardableResult
    public func enqueue<Payload: Encodable>(
        _ type: String, payload: Payload, priority: TaskPriority = .normal, maxAttempts: Int? = nil,
        runAt: Date? = nil, delay: Duration? = nil, idempotencyKey: String? = nil
    ) async throws -> EnqueueResult {
        try await enqueue(NewTask(type: type, payload: payload, priority: priority, maxAttempts: maxAttempts,
                                  runAt: runAt, delay: delay, idempotencyKey: idempotencyKey))
    }

    /// Enqueues many tasks: one INSERT per chunk of a thousand, then one asynchronous publish burst
    /// per chunk, with up to three chunks in flight on their own connections (so one chunk's
    /// publish overlaps the next one's INSERT). Results come back in the order of `tasks`; the
    /// stream may receive the chunks in a different order. Every task that could be created is
    /// created and published; the first failure is then thrown.
    public func enqueueBatch(_ tasks: [NewTask]) async throws -> [EnqueueResult] {
        for task in tasks { try Self.validate(task) }
        let chunks = stride(from: 0, to: tasks.count, by: 1000).map { Array(tasks[$0..<min($0 + 1000, tasks.count)]) }
        var byChunk = [[Result<EnqueueResult, TaskQueueError>]](repeating: [], count: chunks.count)
        let inFlight = max(1, min(3, configuration.postgres.poolSize))
        await withTaskGroup(of: (Int, [Result<EnqueueResult, TaskQueueError>]).self) { group in
            var next = 0
            func startNext() {
                guard next < chunks.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await self.insertAndPublish(chunks[index])) }
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

    /// Inserts tasks in one statement and publishes the ones created and due; returns the results,
    /// with `publishedAt` set for what the stream took.
    ///
    /// What the stream took is not written back: the claim records it (it carries the message's
    /// sequence), and a task still unclaimed after the reconciler's grace is published again under
    /// the same Nats-Msg-Id, which the server answers with the original message's sequence
    /// instead of storing a copy. That saves an UPDATE of every task on the enqueue path.
    func insertAndPublish(_ tasks: [NewTask]) async -> [Result<EnqueueResult, TaskQueueError>] {
        await publishInserted(await insert(tasks))
    }

    private func insert(_ tasks: [NewTask]) async -> [Result<EnqueueResult, TaskQueueError>] {
        let maxAttempts = configuration.defaultMaxAttempts
        do {
            return try await pool.withSession { session in
                try TaskStore.insert(tasks, defaultMaxAttempts: maxAttempts, session: session)
            }
        } catch {
            let failure = error as? TaskQueueError ?? TaskQueueError(.databaseError, "\(error)")
            guard Self.isRejectedData(failure) else { return tasks.map { _ in .failure(failure) } }
            // One task's data broke the statement (a payload string holding \u0000, which jsonb
            // cannot store, passes every JSON parser): insert one by one so only that task fails,
            // as the caller's mistake, and the rest of the batch is not lost with it.
            if tasks.count == 1 {
                return [.failure(TaskQueueError(.invalidArgument, "PostgreSQL rejected the task: \(failure.message)"))]
            }
            var results: [Result<EnqueueResult, TaskQueueError>] = []
            for task in tasks { results += await insert([task]) }
            return results
        }
    }

    /// SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the values were at
    /// fault, not the database.
    static func isRejectedData(_ error: TaskQueueError) -> Bool {
        guard error.code == .databaseError, let state = error.underlyingStatus else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    private func publishInserted(_ inserted: [Result<EnqueueResult, TaskQueueError>]) async -> [Result<EnqueueResult, TaskQueueError>] {
        let created = inserted.compactMap { try? $0.get() }
        let marks = await send(created.filter { $0.created && $0.task.status == .queued }
            .map { PublishTarget(taskID: $0.task.id, priority: $0.task.priority, generation: 0) })
        let published = Set(marks.map(\.taskID))
        let now = Date()
        return inserted.map { result in
            result.map { value in
                var value = value
                if published.contains(value.task.id) { value.task.publishedAt = now }
                return value
            }
        }
    }

    /// Runs `body` in one PostgreSQL transaction; tasks it enqueues are published only after it commits,
    /// and not at all when it throws.
    public func withTransaction<T: Sendable>(_ body: (TaskTransaction) async throws -> T) async throws -> T {
        let connection = await pool.acquire()
        let transaction = TaskTransaction(connection: connection, defaultMaxAttempts: configuration.defaultMaxAttempts)
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
        let targets = transaction.enqueued.filter { $0.created && $0.task.status == .queued }
            .map { PublishTarget(taskID: $0.task.id, priority: $0.task.priority, generation: 0) }
        _ = await send(targets)
        return value
    }

    /// Publishes task ids and records what the stream took. Failures are logged, not thrown:
    /// the reconciler publishes those tasks later.
    @discardableResult
    func publish(_ targets: [PublishTarget]) async -> Set<UUID> {
        let marks = await send(targets)
        do {
            try await store.markPublished(marks)
        } catch {
            // The messages are in the stream; only the bookkeeping is missing. The reconciler may
            // publish these again, and the server drops the copies by Nats-Msg-Id.
            logger.warning("published tasks not marked", metadata: [LogKey.error: "\(error)", LogKey.count: "\(marks.count)"])
        }
        return Set(marks.map(\.taskID))
    }

    /// Publishes task ids on their priority subjects; returns a mark for each message the stream
    /// took. The tasks it could not publish are flagged for the reconciler's short grace.
    func send(_ targets: [PublishTarget]) async -> [PublishMark] {
        guard !targets.isEmpty else { return [] }
        let marks = await sendUnrecorded(targets)
        if marks.count < targets.count {
            let published = Set(marks.map(\.taskID))
            let failed = targets.map(\.taskID).filter { !published.contains($0) }
            do {
                try await store.markPublishFailed(failed)
            } catch {
                // Without the flag the reconciler still publishes them, after its confirmation wait.
                logger.warning("failed publishes not recorded", metadata: [LogKey.error: "\(error)", LogKey.count: "\(failed.count)"])
            }
        }
        return marks
    }

    private func sendUnrecorded(_ targets: [PublishTarget]) async -> [PublishMark] {
        guard nats.isConnected else {
            // Waiting out a request timeout per call would stall every enqueue during an outage;
            // the rows are committed and the reconciler publishes them once NATS is back.
            logger.warning("NATS is not connected; tasks left for the reconciler to publish", metadata: [LogKey.count: "\(targets.count)"])
            return []
        }
        if !isProvisioned {
            do { try await provision() } catch {
                logger.warning("cannot publish: JetStream not provisioned", metadata: [LogKey.error: "\(error)", LogKey.count: "\(targets.count)"])
                return []
            }
        }
        let messages = targets.map { target in
            OutgoingMessage(subject: configuration.subject(for: target.priority), data: Array(target.taskID.postgresText.utf8), messageID: target.messageID)
        }
        let results: [Result<PublishAck, TaskQueueError>]
        if messages.count == 1 {
            do {
                results = [.success(try await nats.publish(subject: messages[0].subject, data: messages[0].data, messageID: messages[0].messageID))]
            } catch let error as TaskQueueError {
                results = [.failure(error)]
            } catch {
                results = [.failure(TaskQueueError(.natsUnavailable, "\(error)"))]
            }
        } else {
            results = await nats.publishBatch(messages)
        }
        var marks: [PublishMark] = []
        var failures = 0
        var lastError: TaskQueueError?
        for (target, result) in zip(targets, results) {
            switch result {
            case .success(let ack):
                marks.append(PublishMark(taskID: target.taskID, sequence: ack.sequence, generation: target.generation))
            case .failure(let error):
                failures += 1
                lastError = error
            }
        }
        if failures > 0 {
            logger.warning("tasks not published; the reconciler will publish them", metadata: [
                LogKey.count: "\(failures)", LogKey.error: "\(lastError.map(String.init(describing:)) ?? "")",
            ])
        }
        return marks
    }

    /// Publishes a failed task's dead letter and records it.
    func publishDeadLetter(_ task: TaskRecord) async throws {
        let data = try DeadLetter(task: task).encoded()
        _ = try await nats.publish(subject: configuration.deadLetterSubject, data: Array(data), messageID: "dlq:\(task.id.postgresText):\(task.attempts)")
        try await store.markDeadLettered([task.id])
    }

    static func validate(_ task: NewTask) throws {
        guard NewTask.isValidType(task.type) else {
            throw TaskQueueError(.invalidArgument, "task type must be 1-128 characters from [A-Za-z0-9._:-]")
        }
        if let maxAttempts = task.maxAttempts, !(1...100).contains(maxAttempts) {
            throw TaskQueueError(.invalidArgument, "max attempts must be between 1 and 100")
        }
        if let key = task.idempotencyKey, key.isEmpty || key.count > 255 {
            throw TaskQueueError(.invalidArgument, "idempotency key must be 1-255 characters")
        }
        guard (try? JSONSerialization.jsonObject(with: Data(task.payloadJSON.utf8), options: [.fragmentsAllowed])) != nil else {
            throw TaskQueueError(.invalidArgument, "payload is not valid JSON")
        }
    }

    // MARK: Reads

    /// The task with this id, or nil.
    public func task(_ id: UUID) async throws -> TaskRecord? { try await store.task(id) }

    /// Every attempt of a task, oldest first.
    public func executions(of id: UUID) async throws -> [TaskExecution] { try await store.executions(id) }

    /// Tasks newest first, filtered, one page at a time.
    public func tasks(_ query: TaskQuery = TaskQuery()) async throws -> TaskPage { try await store.list(query) }

    /// How many tasks are in each state and priority.
    public func counts() async throws -> TaskCounts { try await store.counts() }

    /// How many tasks completed and failed within the last `window`.
    public func finishedRecently(within window: Duration = .seconds(60)) async throws -> (completed: Int, failed: Int) {
        try await store.finishedRecently(within: window)
    }

    // MARK: Cancel and replay

    /// Cancels a task that has not started (scheduled, queued or waiting to retry).
    @discardableResult
    public func cancel(_ id: UUID) async throws -> TaskRecord { try await store.cancel(id) }

    /// Puts a failed task back in the queue with a fresh set of attempts.
    @discardableResult
    public func replay(_ id: UUID) async throws -> TaskRecord {
        var (task, generation) = try await store.replay(id)
        let published = await publish([PublishTarget(taskID: task.id, priority: task.priority, generation: generation)])
        if published.contains(id) { task.publishedAt = Date() }
        return task
    }

    // MARK: Streams

    /// The work stream, the dead-letter stream and the consumers, as JetStream reports them.
    public func streamState() async throws -> (work: StreamSnapshot?, deadLetters: StreamSnapshot?, consumers: [ConsumerSnapshot]) {
        let work = try await nats.streamInfo(configuration.streamName)
        let dead = try await nats.streamInfo(configuration.deadLetterStreamName)
        let consumers = work == nil ? [] : try await nats.consumers(stream: configuration.streamName)
        return (work, dead, consumers)
    }

    /// The newest dead letters, without consuming them.
    public func deadLetters(limit: Int = 20) async throws -> [DeadLetter] {
        try await JetStreamInspector(client: nats).deadLetters(stream: configuration.deadLetterStreamName, limit: limit)
    }

    /// Runs one parameterised statement (`$1`, `$2`, …) on TaskFlow's database, outside any
    /// transaction; returns the rows as text. For reports and tools.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) async throws -> [[String: String?]] {
        let rows = try await pool.withSession { try $0.execute(sql, parameters) }
        return rows.rows.map { Dictionary(uniqueKeysWithValues: zip(rows.columns, $0.values)) }
    }

    /// Deletes the work and dead-letter streams with everything in them (tests and tools clean up
    /// with it; TaskFlow recreates them at the next start).
    public func deleteStreams() async throws {
        try await nats.deleteStream(configuration.streamName)
        try await nats.deleteStream(configuration.deadLetterStreamName)
    }

    /// True when NATS is connected.
    public var natsConnected: Bool { nats.isConnected }

    /// Runs a trivial query; throws when PostgreSQL does not answer.
    public func pingDatabase() async throws {
        try await pool.withSession { try $0.execute("SELECT 1") }
    }
}

/// A caller's PostgreSQL transaction: its own statements and enqueues commit or roll back together.
public final class TaskTransaction: @unchecked Sendable {
    // `@unchecked Sendable`: used by one task at a time inside `withTransaction`; `enqueued` is only
    // touched from that task.
    private let connection: PostgresConnection
    private let defaultMaxAttempts: Int
    fileprivate var enqueued: [EnqueueResult] = []

    init(connection: PostgresConnection, defaultMaxAttempts: Int) {
        self.connection = connection
        self.defaultMaxAttempts = defaultMaxAttempts
    }

    /// Runs a parameterised statement (`$1`, `$2`, …) in the transaction; returns the rows as text.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) async throws -> [[String: String?]] {
        let rows = try await run { session in try session.execute(sql, parameters) }
        return rows.rows.map { row in
            Dictionary(uniqueKeysWithValues: zip(rows.columns, row.values))
        }
    }

    /// Enqueues a task in the transaction; it is published once the transaction commits.
    @discardableResult
    public func enqueue(_ task: NewTask) async throws -> EnqueueResult {
        try TaskQueue.validate(task)
        let maxAttempts = defaultMaxAttempts
        let result = try await run { session in try TaskStore.insert([task], defaultMaxAttempts: maxAttempts, session: session)[0] }.get()
        enqueued.append(result)
        return result
    }

    fileprivate func commit() async throws {
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
