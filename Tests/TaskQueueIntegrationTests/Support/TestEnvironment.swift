import Foundation
import Logging
import Synchronization
import Testing
import Tracing

@testable import TaskQueue

/// One isolated TaskFlow installation on the shared test servers: its own PostgreSQL schema, its
/// own stream names, subjects and consumers, so tests run side by side.
struct TestEnvironment {
    let name: String
    let queue: TaskQueue
    let configuration: TaskQueueConfiguration

    static var databaseURL: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgres://taskflow@127.0.0.1:15432/taskflow?sslmode=disable"
    }

    static var natsURL: String {
        ProcessInfo.processInfo.environment["NATS_URL"] ?? "nats://127.0.0.1:14222"
    }

    /// The migration files; the queue itself applies the copy embedded in the library.
    static var migrations: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deployments/migrations")
    }

    static func make(
        _ label: String = #function,
        lease: Duration = .seconds(30),
        defaultMaxAttempts: Int = 5,
        tracer: (any Tracer)? = nil
    ) async throws -> TestEnvironment {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let base = label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20)
        let name = "t_\(base)_\(suffix)"
        let configuration = TaskQueueConfiguration(
            postgres: PostgresConfiguration(url: databaseURL, poolSize: 4, schema: name),
            nats: NATSConfiguration(url: natsURL, connectionName: name),
            streamName: name.uppercased(),
            subjectPrefix: name,
            consumerName: name,
            lease: lease,
            defaultMaxAttempts: defaultMaxAttempts
        )
        var logger = Logger(label: "test.\(name)")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let queue = try await TaskQueue.connect(configuration: configuration, tracer: tracer, logger: logger)
        return TestEnvironment(name: name, queue: queue, configuration: configuration)
    }

    /// Removes the schema and streams.
    func tearDown() async {
        try? await queue.nats.deleteStream(configuration.streamName)
        try? await queue.nats.deleteStream(configuration.deadLetterStreamName)
        _ = try? await queue.pool.withSession { [name] session in
            try session.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE")
        }
    }

    func workerConfiguration(
        id: String = "worker-\(UUID().uuidString.prefix(6))",
        concurrency: Int = 4,
        retry: RetryStrategy = .exponentialJitter(base: .milliseconds(100), cap: .seconds(1)),
        shutdownTimeout: Duration = .seconds(10),
        reconcile: Bool = true,
        lostAfter: Duration = .seconds(120),
        publishGrace: Duration = .seconds(1),
        confirmAfter: Duration = .seconds(60)
    ) -> WorkerConfiguration {
        WorkerConfiguration(
            workerID: id,
            concurrency: concurrency,
            pollTimeout: .milliseconds(500),
            retry: retry,
            shutdownTimeout: shutdownTimeout,
            reconcilerEnabled: reconcile,
            reconcileInterval: .milliseconds(200),
            publishGrace: publishGrace,
            confirmAfter: confirmAfter,
            lostAfter: lostAfter
        )
    }

    /// A reconciler over this installation's queue, run pass by pass in tests.
    func reconciler(_ configuration: WorkerConfiguration) -> Reconciler {
        Reconciler(
            store: queue.store, publisher: queue.publisher, nats: queue.nats, streamName: self.configuration.streamName,
            configuration: configuration, logger: queue.logger)
    }

    /// Starts a worker; `stop()` on the returned handle drains it and waits.
    func startWorker(_ registry: TaskHandlerRegistry, configuration: WorkerConfiguration? = nil) -> RunningWorker {
        let worker = TaskWorker(
            queue: queue, registry: registry, configuration: configuration ?? workerConfiguration(),
            logger: queue.logger)
        let task = Task { try await worker.run() }
        return RunningWorker(worker: worker, task: task)
    }

    /// Waits until the task reaches `status`, failing the test after `timeout`.
    @discardableResult
    func waitFor(
        _ id: UUID, _ status: TaskStatus, timeout: Duration = .seconds(20),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TaskRecord {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var last: TaskRecord?
        while clock.now < deadline {
            last = try await queue.task(id)
            if let last, last.status == status { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("task \(id) is \(last?.status.rawValue ?? "missing"), expected \(status.rawValue)", sourceLocation: sourceLocation)
        throw TestTimeout()
    }

    /// Publishes raw bytes straight onto a work subject, bypassing TaskFlow.
    func publishRaw(_ text: String, priority: TaskPriority = .normal) async throws {
        _ = try await queue.nats.publish(
            subject: configuration.subject(for: priority), data: Array(text.utf8),
            messageID: UUID().uuidString)
    }
}

struct TestTimeout: Error {}

struct RunningWorker {
    let worker: TaskWorker
    let task: Task<Void, Error>

    func stop() async throws {
        worker.stop()
        try await task.value
    }
}

/// Counts handler runs per task, to prove that nothing ran to success twice.
final class RunLog: Sendable {
    private struct State {
        var started: [UUID: Int] = [:]
        var succeeded: [UUID: Int] = [:]
        var order: [UUID] = []
    }

    private let state = Mutex(State())

    func started(_ id: UUID) {
        state.withLock {
            $0.started[id, default: 0] += 1
            $0.order.append(id)
        }
    }
    func succeeded(_ id: UUID) { state.withLock { $0.succeeded[id, default: 0] += 1 } }
    func startCount(_ id: UUID) -> Int { state.withLock { $0.started[id] ?? 0 } }
    func successCount(_ id: UUID) -> Int { state.withLock { $0.succeeded[id] ?? 0 } }
    var order: [UUID] { state.withLock { $0.order } }
}

struct Empty: Codable, Sendable {}

/// A payload that tells the `flaky` handler how many times to fail before succeeding.
struct Flaky: Codable, Sendable { var failures: Int }

struct FlakyError: Error, CustomStringConvertible {
    var attempt: Int
    var description: String { "flaky failure on attempt \(attempt)" }
}
