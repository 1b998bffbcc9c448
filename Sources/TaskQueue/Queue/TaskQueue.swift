import Foundation
import Logging
import Tracing

/// TaskFlow's entry point: enqueue tasks, read them back, cancel and retry them. Workers
/// (``TaskWorker``) run on top of one.
///
/// A task's row is committed before its id is published; when publishing fails the task stays
/// queued and unpublished, and a worker's reconciler publishes it later.
public final class TaskQueue: Sendable {
    /// The configuration the queue was connected with.
    public let configuration: TaskQueueConfiguration
    let pool: PostgresPool
    let store: TaskStore
    let nats: NATSClient
    let publisher: TaskPublisher
    let middleware: MiddlewareChain
    let logger: Logger
    let inserter: TaskInserter
    let enqueueBatcher: EnqueueBatcher
    /// Where enqueues and attempts record spans; nil when tracing is off.
    let tracer: (any Tracer)?

    /// Connects to PostgreSQL (applying migrations unless `runMigrations` is false) and NATS.
    /// Streams and consumers are provisioned now when NATS answers, and otherwise on first use,
    /// so an API can start while NATS is down.
    ///
    /// - Parameters:
    ///   - configuration: servers, stream names and defaults.
    ///   - middleware: code run around every enqueue and every attempt, outermost first.
    ///   - tracer: where enqueues and attempts record spans (see <doc:Tracing>); the one
    ///     bootstrapped with `InstrumentationSystem` unless given. With the no-op tracer (nothing
    ///     bootstrapped) or nil, nothing is traced and the enqueue and attempt paths skip tracing.
    ///   - logger: where the queue and its workers log.
    public static func connect(
        configuration: TaskQueueConfiguration, middleware: [any TaskMiddleware] = [],
        tracer: (any Tracer)? = InstrumentationSystem.tracer, logger: Logger = Logger(label: "taskflow")
    ) async throws -> TaskQueue {
        let pool = PostgresPool(configuration: configuration.postgres)
        if configuration.runMigrations {
            try await Migrator.migrate(
                Migrator.migrations(configuration.migrationsDirectory), pool: pool,
                schema: configuration.postgres.schema, logger: logger)
        }
        let nats = try NATSClient(configuration: configuration.nats)
        let queue = TaskQueue(configuration: configuration, pool: pool, nats: nats, middleware: middleware, tracer: tracer, logger: logger)
        do {
            try await queue.provision()
        } catch {
            logger.warning("JetStream not provisioned yet; will retry on first use", metadata: [LogKey.error: "\(error)"])
        }
        return queue
    }

    /// Applies TaskFlow's migrations to the database and returns the versions it applied, for
    /// deployments that migrate as a separate step (then connect with `runMigrations: false`).
    /// The migrations ship inside the library; `TASKFLOW_MIGRATIONS_DIR` or `directory` reads
    /// them from a folder instead.
    @discardableResult
    public static func migrate(
        _ postgres: PostgresConfiguration, directory: URL? = nil,
        logger: Logger = Logger(label: "taskflow")
    ) async throws -> [Int] {
        let pool = PostgresPool(configuration: postgres)
        return try await Migrator.migrate(Migrator.migrations(directory), pool: pool, schema: postgres.schema, logger: logger)
    }

    init(
        configuration: TaskQueueConfiguration, pool: PostgresPool, nats: NATSClient, middleware: [any TaskMiddleware],
        tracer: (any Tracer)? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.tracer = TaskTracing.active(tracer)
        self.pool = pool
        let store = TaskStore(pool: pool)
        self.store = store
        self.nats = nats
        let publisher = TaskPublisher(configuration: configuration, nats: nats, store: store, logger: logger)
        self.publisher = publisher
        self.middleware = MiddlewareChain(middleware: middleware)
        self.logger = logger
        let inserter = TaskInserter(pool: pool, publisher: publisher, defaultMaxAttempts: configuration.defaultMaxAttempts)
        self.inserter = inserter
        self.enqueueBatcher = EnqueueBatcher { await inserter.insertAndPublish($0) }
    }

    /// Creates or checks the work stream, the dead-letter stream and one consumer per priority.
    /// Safe to call from many processes at once.
    public func provision() async throws { try await publisher.provision() }

    // MARK: Reads

    /// The task with this id, or nil.
    public func task(_ id: UUID) async throws -> TaskRecord? { try await store.task(id) }

    /// Every attempt of a task, oldest first.
    public func executions(of id: UUID) async throws -> [TaskExecution] { try await store.executions(id) }

    /// Tasks newest first, filtered, one page at a time.
    public func tasks(_ query: TaskQuery = TaskQuery()) async throws -> TaskPage { try await store.list(query) }

    /// How many tasks are in each state and priority, exactly, at a cost that does not grow with
    /// history: unfinished tasks are counted by index, finished ones are counts TaskFlow keeps as
    /// it finishes, cancels, retries and prunes tasks (see ``recountFinishedTasks()``).
    public func counts() async throws -> TaskCounts { try await store.counts() }

    /// How many finished tasks the workers' pruners have deleted so far, fleet-wide, by final
    /// state (see ``RetentionPolicy``).
    public func prunedCounts() async throws -> [TaskStatus: Int] { try await store.pruneTotals() }

    /// How many tasks completed and failed within the last `window`, counted by whole seconds
    /// (at most the last hour; kept per second by the statements that finish tasks).
    public func finishedRecently(within window: Duration = .seconds(60)) async throws -> (completed: Int, failed: Int) {
        try await store.finishedRecently(within: window)
    }

    /// Counts the finished tasks afresh, row by row. ``counts()`` reads counts that TaskFlow's own
    /// statements keep as they finish, cancel, retry and prune tasks; a change made by hand in
    /// SQL (or by a TaskFlow from before these counts, running beside this one during an upgrade)
    /// is not in them until this runs. Changes to tasks wait while it counts (seconds on a table
    /// of millions).
    public func recountFinishedTasks() async throws { try await store.recountFinished() }

    // MARK: Cancel and retry

    /// Cancels a task. One that has not started (scheduled, queued, waiting to retry, or held) is
    /// cancelled at once. A running one gets a cancel request and is returned still `running`,
    /// with ``TaskRecord/cancelRequestedAt`` set: its worker cancels the handler's Swift task
    /// within about a second (see ``TaskContext/isCancelled``), records the attempt as cancelled
    /// and ends the task `cancelled`, without a retry, whatever the handler returns after the
    /// request. If that worker died, the next claim of the task cancels it instead of running it.
    ///
    /// - Throws: ``TaskQueueError`` `taskNotFound`, or `invalidState` when the task has ended.
    @discardableResult
    public func cancel(_ id: UUID) async throws -> TaskRecord { try await store.cancel(id) }

    /// Cancels every unfinished task `selection` matches, as ``cancel(_:)`` does one: waiting
    /// tasks are cancelled, running ones get a cancel request. Works through the matches in batches
    /// of 500, so it does not hold them all locked at once; tasks created meanwhile may be missed.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` for an empty selection (it would cancel
    ///   everything) or one that selects a finished state.
    public func cancel(matching selection: TaskSelection) async throws -> CancelSummary {
        guard !selection.isEmpty else {
            throw TaskQueueError(.invalidArgument, "a bulk cancel needs at least one filter", field: "status")
        }
        if let status = selection.status, status.isTerminal {
            throw TaskQueueError(.invalidArgument, "\(status.rawValue) tasks cannot be cancelled", field: "status")
        }
        return try await store.cancel(matching: selection)
    }

    /// Puts a failed task back in the queue with a fresh set of attempts (the REST API's
    /// `POST /api/v1/tasks/{id}/retry`).
    ///
    /// - Throws: ``TaskQueueError`` `taskNotFound`, or `invalidState` when the task has not failed.
    @discardableResult
    public func retry(_ id: UUID) async throws -> TaskRecord {
        var (task, generation) = try await store.retry(id)
        let published = await publisher.publish([PublishTarget(taskID: task.id, priority: task.priority, generation: generation)])
        // As the row now says: published, or flagged for the reconciler.
        if published.contains(id) { task.publishedAt = Date() } else { task.publishFailedAt = Date() }
        return task
    }

    /// Retries every failed task `selection` matches, as ``retry(_:)`` does one: each goes back in
    /// the queue with a fresh set of attempts and is published again. Works through the matches
    /// newest first, 500 per statement; returns how many it put back.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` for an empty selection (it would retry every
    ///   failed task; pass `TaskSelection(status: .failed)` for that) or one that selects another state.
    public func retry(matching selection: TaskSelection) async throws -> Int {
        guard !selection.isEmpty else {
            throw TaskQueueError(.invalidArgument, "a bulk retry needs at least one filter", field: "status")
        }
        if let status = selection.status, status != .failed {
            throw TaskQueueError(.invalidArgument, "only failed tasks can be retried", field: "status")
        }
        var retried = 0
        var cursor: UUID?
        repeat {
            let batch = try await store.retryBatch(matching: selection, below: cursor, limit: TaskStore.bulkBatch)
            // A publish that fails is flagged for the reconciler by the publisher.
            await publisher.publish(batch.targets)
            retried += batch.targets.count
            cursor = batch.next
        } while cursor != nil
        return retried
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
