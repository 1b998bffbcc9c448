import Foundation
import Logging
import Synchronization
import Testing

@testable import TaskQueue

/// A payload of the typed-definition tests.
struct Greeting: Codable, Sendable, Equatable {
    var name: String
    var failures: Int = 0
}

@Suite("Typed definitions, per-type policies and middleware", .serialized)
struct TypedTasksTests {
    @Test func aDefinitionCarriesItsOptionsToTheRowAndTheHandlerGetsItsPayload() async throws {
        try await TestEnvironment.with { env in
            let greet = TaskDefinition<Greeting>("greet", priority: .high, maxAttempts: 2)
            let received = Mutex<[Greeting]>([])
            let registry = TaskHandlerRegistry()
            try registry.register(greet) { greeting, context in
                #expect(context.type == "greet")
                #expect(context.maxAttempts == 2)
                received.withLock { $0.append(greeting) }
            }
            let worker = env.startWorker(registry)
            let result = try await env.queue.enqueue(greet, Greeting(name: "Ada"))
            #expect(result.task.priority == .high)
            #expect(result.task.maxAttempts == 2)
            try await env.waitFor(result.task.id, .completed)
            #expect(received.withLock { $0 } == [Greeting(name: "Ada")])

            // Inside the caller's transaction, next to the caller's own row.
            try await env.queue.execute("CREATE TABLE \(env.name).greetings (name text PRIMARY KEY)")
            let inTransaction = try await env.queue.withTransaction { transaction in
                try await transaction.execute("INSERT INTO \(env.name).greetings (name) VALUES ($1)", ["Grace"])
                return try await transaction.enqueue(greet, Greeting(name: "Grace")).task.id
            }
            try await env.waitFor(inTransaction, .completed)
            try await worker.stop()
        }
    }

    @Test func theDefinitionsRetryStrategyAndTimeoutReplaceTheWorkers() async throws {
        try await TestEnvironment.with { env in
            // The worker's own strategy would wait 30 s between attempts; the definition's waits 50 ms.
            let flaky = TaskDefinition<Greeting>("greet.flaky", maxAttempts: 3, retry: .fixed(.milliseconds(50)))
            let once = TaskDefinition<Greeting>("greet.once", maxAttempts: 5, retry: .noRetry)
            let slow = TaskDefinition<Greeting>("greet.slow", maxAttempts: 1, timeout: .milliseconds(200))
            let asked = TaskDefinition<Greeting>("greet.asked", maxAttempts: 2, retry: .noRetry)
            let registry = TaskHandlerRegistry()
            try registry.register(flaky) { greeting, context in
                if context.attempt <= greeting.failures { throw FlakyError(attempt: context.attempt) }
            }
            try registry.register(once) { _, _ in throw FlakyError(attempt: 1) }
            try registry.register(slow) { _, context in
                #expect(context.deadline != nil)
                try await Task.sleep(for: .seconds(30))
            }
            try registry.register(asked) { _, context in
                // The handler's own delay wins over the definition's "no retries".
                if context.attempt == 1 { throw RetryAfter(.milliseconds(100), "busy, come back soon") }
            }
            let config = env.workerConfiguration(retry: .fixed(.seconds(30)))
            let worker = env.startWorker(registry, configuration: config)

            let started = ContinuousClock.now
            let flakyID = try await env.queue.enqueue(flaky, Greeting(name: "a", failures: 2)).task.id
            #expect(try await env.waitFor(flakyID, .completed, timeout: .seconds(10)).attempts == 3)
            #expect(ContinuousClock.now - started < .seconds(10))

            let onceID = try await env.queue.enqueue(once, Greeting(name: "b")).task.id
            let failed = try await env.waitFor(onceID, .failed)
            #expect(failed.attempts == 1)

            let slowID = try await env.queue.enqueue(slow, Greeting(name: "c")).task.id
            let timedOut = try await env.waitFor(slowID, .failed)
            #expect(timedOut.lastError?.contains("timed out after") == true)
            let executions = try await env.queue.executions(of: slowID)
            #expect(executions.first?.error?.contains("timed out after 0.2 seconds") == true)

            let askedID = try await env.queue.enqueue(asked, Greeting(name: "d")).task.id
            #expect(try await env.waitFor(askedID, .completed).attempts == 2)
            #expect(try await env.queue.executions(of: askedID).first?.error == "busy, come back soon")
            try await worker.stop()
        }
    }

    @Test func aCancellationErrorNobodyAskedForIsAnOrdinaryFailure() async throws {
        try await TestEnvironment.with { env in
            // Taken for the worker's own interruption, it would run again at once, without end.
            let confused = TaskDefinition<Greeting>("greet.confused", maxAttempts: 2, retry: .fixed(.milliseconds(20)))
            let runs = Mutex(0)
            let registry = TaskHandlerRegistry()
            try registry.register(confused) { _, _ in
                runs.withLock { $0 += 1 }
                throw CancellationError()
            }
            let worker = env.startWorker(registry)
            let id = try await env.queue.enqueue(confused, Greeting(name: "e")).task.id
            let failed = try await env.waitFor(id, .failed)
            #expect(failed.attempts == 2)
            #expect(failed.lastError?.contains("attempts exhausted") == true)
            try await Task.sleep(for: .milliseconds(200))
            #expect(runs.withLock { $0 } == 2)
            try await worker.stop()
        }
    }

    /// Records what passes through it.
    final class Recorder: TaskMiddleware {
        let events = Mutex<[String]>([])

        func enqueue(_ tasks: [NewTask], next: @Sendable ([NewTask]) async throws -> [EnqueueResult]) async throws -> [EnqueueResult] {
            events.withLock { $0.append("enqueue \(tasks.map(\.type).joined(separator: ","))") }
            // A middleware may change what is stored.
            let tagged = tasks.map { task in
                var task = task
                if task.type == "greet.tagged" { task.priority = .low }
                return task
            }
            return try await next(tagged)
        }

        func run(_ task: TaskRecord, context: TaskContext, next: @Sendable (TaskContext) async throws -> Void) async throws {
            events.withLock { $0.append("before \(task.type) #\(context.attempt)") }
            do {
                try await next(context)
                events.withLock { $0.append("after \(task.type)") }
            } catch {
                events.withLock { $0.append("threw \(task.type)") }
                throw error
            }
        }
    }

    @Test func middlewareRunsAroundEveryEnqueueAndEveryAttempt() async throws {
        try await TestEnvironment.with { env in
            let recorder = Recorder()
            let queue = try await TaskQueue.connect(configuration: env.configuration, middleware: [recorder], logger: env.queue.logger)
            let tagged = TaskDefinition<Greeting>("greet.tagged", maxAttempts: 2, retry: .fixed(.milliseconds(20)))
            let registry = TaskHandlerRegistry()
            try registry.register(tagged) { greeting, context in
                if context.attempt <= greeting.failures { throw FlakyError(attempt: context.attempt) }
            }
            let worker = TaskWorker(queue: queue, registry: registry, configuration: env.workerConfiguration(), logger: env.queue.logger)
            let running = Task { try await worker.run() }

            let result = try await queue.enqueue(tagged, Greeting(name: "x", failures: 1))
            #expect(result.task.priority == .low)
            try await env.waitFor(result.task.id, .completed)
            _ = try await queue.enqueueBatch(tagged, [Greeting(name: "y"), Greeting(name: "z")])
            _ = try await queue.withTransaction { try await $0.enqueue(tagged, Greeting(name: "w")) }
            worker.stop()
            try await running.value

            let events = recorder.events.withLock { $0 }
            #expect(events.filter { $0.hasPrefix("enqueue") } == ["enqueue greet.tagged", "enqueue greet.tagged,greet.tagged", "enqueue greet.tagged"])
            #expect(
                Array(events.filter { !$0.hasPrefix("enqueue") }.prefix(4))
                    == ["before greet.tagged #1", "threw greet.tagged", "before greet.tagged #2", "after greet.tagged"])
        }
    }

    @Test func migrationsRunAsTheirOwnStepWhenConnectIsToldNotTo() async throws {
        let schema = "t_migrate_\(UUID().uuidString.prefix(8).lowercased())"
        let postgres = PostgresConfiguration(url: TestEnvironment.databaseURL, poolSize: 2, schema: schema)
        let configuration = TaskQueueConfiguration(
            postgres: postgres, nats: NATSConfiguration(url: TestEnvironment.natsURL, connectionName: schema),
            streamName: schema.uppercased(), subjectPrefix: schema, consumerName: schema, runMigrations: false)
        let queue = try await TaskQueue.connect(configuration: configuration)
        // Not migrated: the tables are not there.
        await #expect(throws: TaskQueueError.self) { try await queue.enqueue(NewTask(type: "noop")) }
        let applied = try await TaskQueue.migrate(postgres)
        #expect(applied == Migrator.embedded.map(\.version))
        #expect(try await TaskQueue.migrate(postgres) == [])
        #expect(try await queue.enqueue(NewTask(type: "noop")).created)
        try? await queue.deleteStreams()
        _ = try? await queue.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
    }
}
