import Foundation
import InMemoryTracing
import Synchronization
import Testing
import Tracing

@testable import TaskQueue

@Suite("Tracing: one trace from the enqueuing span through every attempt, links for batches and schedules")
struct TracingTests {
    static func tracer() -> InMemoryTracer { InMemoryTracer(recordInjections: false, recordExtractions: false) }

    static func attribute(_ span: FinishedInMemorySpan, _ key: String) -> SpanAttribute? {
        span.attributes[key]?.toSpanAttribute()
    }

    /// Waits until `count` finished spans are named `name` (an attempt's span ends after its outcome is written).
    static func spans(
        named name: String, count: Int, in tracer: InMemoryTracer, timeout: Duration = .seconds(20),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [FinishedInMemorySpan] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = tracer.finishedSpans.filter { $0.operationName == name }
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("fewer than \(count) finished spans named \(name)", sourceLocation: sourceLocation)
        throw TestTimeout()
    }

    /// A handler that fails its first attempt and records a span of its own inside each attempt.
    static func registry(_ tracer: InMemoryTracer, seen: TraceIDs) throws -> TaskHandlerRegistry {
        let registry = TaskHandlerRegistry()
        try registry.register("traced", payload: Flaky.self) { payload, context in
            // The handler's own work, as an HTTP client would record it: a child of the attempt.
            tracer.withSpan("handler work") { span in
                seen.ids.withLock { $0.append(span.context.inMemorySpanContext?.traceID ?? "none") }
            }
            if context.attempt <= payload.failures { throw FlakyError(attempt: context.attempt) }
        }
        return registry
    }

    @Test func anEnqueueInsideASpanContinuesItsTraceThroughEveryAttempt() async throws {
        let tracer = Self.tracer()
        try await TestEnvironment.with(tracer: tracer) { env in
            let seen = TraceIDs()
            let worker = env.startWorker(try Self.registry(tracer, seen: seen))
            let created = try await tracer.withSpan("request", ofKind: .server) { _ in
                try await env.queue.enqueue(NewTask(type: "traced", payload: Flaky(failures: 1)))
            }
            try await env.waitFor(created.task.id, .completed)
            let attempts = try await Self.spans(named: "task traced", count: 2, in: tracer)
            try await worker.stop()

            let request = try #require(tracer.finishedSpans.first { $0.operationName == "request" })
            let enqueue = try #require(tracer.finishedSpans.first { $0.operationName == "enqueue" })
            #expect(enqueue.traceID == request.traceID && enqueue.parentSpanID == request.spanID)
            #expect(enqueue.kind == .producer)
            #expect(Self.attribute(enqueue, "taskflow.task.id") == .string(created.task.id.lowercasedText))
            #expect(Self.attribute(enqueue, "taskflow.task.type") == .string("traced"))

            for span in attempts {
                #expect(span.traceID == request.traceID, "every attempt is in the request's trace")
                #expect(span.parentSpanID == enqueue.spanID, "every attempt is a child of the enqueue span")
                #expect(span.kind == .consumer)
                #expect(span.links.isEmpty)
                #expect(Self.attribute(span, "taskflow.task.id") == .string(created.task.id.lowercasedText))
                #expect(Self.attribute(span, "taskflow.task.priority") == .string("normal"))
                #expect(Self.attribute(span, "taskflow.worker.id") == .string(worker.worker.configuration.workerID))
                #expect(Self.attribute(span, "taskflow.task.queue_wait_ms") != nil)
            }
            let first = try #require(attempts.first { Self.attribute($0, "taskflow.task.attempt") == .int64(1) })
            let second = try #require(attempts.first { Self.attribute($0, "taskflow.task.attempt") == .int64(2) })
            #expect(Self.attribute(first, "taskflow.task.outcome") == .string("retry"))
            #expect(first.status?.code == .error)
            #expect(first.errors.count == 1 && first.errors.first?.error is FlakyError)
            #expect(Self.attribute(second, "taskflow.task.outcome") == .string("completed"))
            #expect(second.status == nil && second.errors.isEmpty)

            // The handler ran inside its attempt's span.
            let work = tracer.finishedSpans.filter { $0.operationName == "handler work" }
            #expect(work.count == 2)
            #expect(Set(work.map(\.parentSpanID)) == Set([first.spanID, second.spanID]))
            #expect(seen.ids.withLock { $0 } == [request.traceID, request.traceID])
        }
    }

    @Test func theTraceIsStoredWithTheTaskAndSentInItsMessageHeaders() async throws {
        let tracer = Self.tracer()
        try await TestEnvironment.with(tracer: tracer) { env in
            let created = try await tracer.withSpan("request") { _ in
                try await env.queue.enqueue(NewTask(type: "traced", payload: Flaky(failures: 0)))
            }
            let enqueue = try #require(tracer.finishedSpans.first { $0.operationName == "enqueue" })
            let expected = [InMemoryTracer.traceIDKey: enqueue.traceID, InMemoryTracer.spanIDKey: enqueue.spanID]

            let stored = try await env.queue.pool.withSession { session in
                try session.execute("SELECT trace_context::text AS t FROM tasks WHERE id = $1", [created.task.id])
            }.rows[0].optionalString("t")
            let trace = try #require(stored.flatMap(TaskTrace.init(stored:)))
            #expect(trace.relation == .parent && trace.fields == expected)

            // No worker runs, so the stream still holds the message: the first of this test's stream.
            let message = try #require(try await env.queue.nats.message(stream: env.configuration.streamName, sequence: 1))
            #expect(message.data == Array(created.task.id.postgresText.utf8))
            #expect(message.headers[InMemoryTracer.traceIDKey] == enqueue.traceID)
            #expect(message.headers[InMemoryTracer.spanIDKey] == enqueue.spanID)
            #expect(message.headers["Nats-Msg-Id"] == "\(created.task.id.postgresText):0")

            // A batch goes out as one asynchronous burst: every message carries the batch span.
            let batch = try await tracer.withSpan("import") { _ in
                try await env.queue.enqueueBatch([NewTask(type: "noop"), NewTask(type: "noop")])
            }
            let batchSpan = try #require(tracer.finishedSpans.first { $0.operationName == "enqueue batch" })
            for sequence in [UInt64(2), 3] {
                let message = try #require(try await env.queue.nats.message(stream: env.configuration.streamName, sequence: sequence))
                #expect(batch.map { Array($0.task.id.postgresText.utf8) }.contains(message.data))
                #expect(message.headers[InMemoryTracer.spanIDKey] == batchSpan.spanID)
            }
        }
    }

    @Test func aBatchLinksEachTaskToTheBatchSpan() async throws {
        let tracer = Self.tracer()
        try await TestEnvironment.with(tracer: tracer) { env in
            let seen = TraceIDs()
            let worker = env.startWorker(try Self.registry(tracer, seen: seen))
            let tasks = try (0..<3).map { _ in try NewTask(type: "traced", payload: Flaky(failures: 0)) }
            let results = try await tracer.withSpan("import") { _ in try await env.queue.enqueueBatch(tasks) }
            for result in results { try await env.waitFor(result.task.id, .completed) }
            let attempts = try await Self.spans(named: "task traced", count: 3, in: tracer)
            try await worker.stop()

            let parent = try #require(tracer.finishedSpans.first { $0.operationName == "import" })
            let batch = try #require(tracer.finishedSpans.first { $0.operationName == "enqueue batch" })
            #expect(batch.parentSpanID == parent.spanID && batch.traceID == parent.traceID)
            #expect(Self.attribute(batch, "taskflow.batch.size") == .int64(3))
            let ids = attempts.compactMap { span -> String? in
                if case .string(let id) = Self.attribute(span, "taskflow.task.id") { return id }
                return nil
            }
            #expect(Set(ids) == Set(results.map { $0.task.id.lowercasedText }))
            for span in attempts {
                // A trace of its own, linked to the batch.
                #expect(span.parentSpanID == nil)
                #expect(span.traceID != batch.traceID)
                #expect(span.links.count == 1)
                #expect(span.links.first?.context.inMemorySpanContext?.spanID == batch.spanID)
                #expect(span.links.first?.context.inMemorySpanContext?.traceID == batch.traceID)
            }
        }
    }

    @Test func aScheduleFireStartsANewTraceThatTheTaskLinksTo() async throws {
        let tracer = Self.tracer()
        try await TestEnvironment.with(tracer: tracer) { env in
            let seen = TraceIDs()
            _ = try await env.queue.createSchedule(try Schedule("traced-every-second", cron: "@every 1s", type: "traced", payloadJSON: #"{"failures":0}"#))
            var configuration = env.workerConfiguration()
            configuration.scheduleInterval = .milliseconds(200)
            let worker = env.startWorker(try Self.registry(tracer, seen: seen), configuration: configuration)
            let attempts = try await Self.spans(named: "task traced", count: 1, in: tracer)
            _ = try await env.queue.pauseSchedule(named: "traced-every-second")
            try await worker.stop()

            let fires = tracer.finishedSpans.filter { $0.operationName == "schedule traced-every-second" }
            let attempt = attempts[0]
            let link = try #require(attempt.links.first?.context.inMemorySpanContext)
            let fire = try #require(fires.first { $0.spanID == link.spanID })
            #expect(fire.parentSpanID == nil, "an automatic fire starts a trace")
            #expect(fire.kind == .producer)
            #expect(Self.attribute(fire, "taskflow.schedule.name") == .string("traced-every-second"))
            #expect(Self.attribute(fire, "taskflow.task.id") == Self.attribute(attempt, "taskflow.task.id"))
            #expect(Self.attribute(fire, "taskflow.schedule.fire_time") != nil)
            #expect(attempt.parentSpanID == nil && attempt.traceID != fire.traceID)

            // A trigger by hand is a child of its caller's span.
            let triggered = try await tracer.withSpan("trigger request") { _ in
                try await env.queue.triggerSchedule(named: "traced-every-second")
            }
            let request = try #require(tracer.finishedSpans.first { $0.operationName == "trigger request" })
            let manual = try #require(
                tracer.finishedSpans.first {
                    $0.operationName == "schedule traced-every-second"
                        && Self.attribute($0, "taskflow.task.id") == .string(triggered.id.lowercasedText)
                })
            #expect(manual.parentSpanID == request.spanID && manual.traceID == request.traceID)
        }
    }

    @Test func withoutATracerNothingIsStoredOrSent() async throws {
        try await TestEnvironment.with { env in
            #expect(env.queue.tracer == nil)
            let created = try await env.queue.enqueue(NewTask(type: "noop"))
            let stored = try await env.queue.pool.withSession { session in
                try session.execute("SELECT trace_context::text AS t FROM tasks WHERE id = $1", [created.task.id])
            }.rows[0].optionalString("t")
            #expect(stored == nil)
            let message = try #require(try await env.queue.nats.message(stream: env.configuration.streamName, sequence: 1))
            #expect(Set(message.headers.keys) == ["Nats-Msg-Id"])
        }
        // The no-op tracer counts as none: the enqueue and attempt paths skip tracing.
        #expect(TaskTracing.active(NoOpTracer()) == nil)
    }

    @Test func aTaskInATransactionContinuesTheCallersTrace() async throws {
        let tracer = Self.tracer()
        try await TestEnvironment.with(tracer: tracer) { env in
            let created = try await tracer.withSpan("signup") { _ in
                try await env.queue.withTransaction { transaction in
                    try await transaction.enqueue(NewTask(type: "noop"))
                }
            }
            let signup = try #require(tracer.finishedSpans.first { $0.operationName == "signup" })
            let enqueue = try #require(tracer.finishedSpans.first { $0.operationName == "enqueue" })
            #expect(enqueue.parentSpanID == signup.spanID)
            let message = try #require(try await env.queue.nats.message(stream: env.configuration.streamName, sequence: 1))
            #expect(message.headers[InMemoryTracer.spanIDKey] == enqueue.spanID)
            #expect(Self.attribute(enqueue, "taskflow.task.id") == .string(created.task.id.lowercasedText))
        }
    }
}

/// The trace ids handlers saw.
final class TraceIDs: Sendable {
    let ids = Mutex<[String]>([])
}

@Suite("Tracing: what is stored with a task")
struct TaskTraceTests {
    @Test func storedTextRoundTripsAndAnythingElseIsIgnored() throws {
        let trace = TaskTrace(relation: .link, fields: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
        #expect(trace.stored == #"{"link":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}"#)
        #expect(TaskTrace(stored: trace.stored) == trace)
        // jsonb's own spacing reads the same.
        #expect(TaskTrace(stored: #"{"parent": {"traceparent": "x", "tracestate": "a=b"}}"#)?.fields == ["traceparent": "x", "tracestate": "a=b"])
        // A value that needs an escape goes through JSONSerialization both ways.
        let quoted = TaskTrace(relation: .parent, fields: ["tracestate": #"a="q\"#, "traceparent": "p"])
        #expect(TaskTrace(stored: quoted.stored) == quoted)
        #expect(TaskTrace(stored: #"{"parent":{"tracestate":"a=\"q\"","traceparent":"p"}}"#)?.fields["tracestate"] == #"a="q""#)
        for bad in [
            "", "null", "[]", #"{"parent":{}}"#, #"{"child":{"a":"b"}}"#, #"{"parent":{"a":1}}"#, #"{"parent":{"a":"b"},"link":{"a":"b"}}"#,
            #"{"parent":{"a":"b"}"#, #"{"parent":{"a":"b"}} x"#,
        ] {
            #expect(TaskTrace(stored: bad) == nil, "\(bad)")
        }
    }

    @Test func captureIsNilWithoutASpan() {
        let tracer = InMemoryTracer()
        #expect(TaskTrace.capture(.topLevel, tracer: tracer, relation: .parent) == nil)
        let span = tracer.startSpan("s")
        let captured = TaskTrace.capture(span.context, tracer: tracer, relation: .parent)
        #expect(captured?.fields[InMemoryTracer.spanIDKey] == span.spanContext.spanID)
        #expect(captured.map { $0.context(tracer: tracer).inMemorySpanContext?.spanID } == span.spanContext.spanID)
        span.end()
    }

    @Test func attemptOutcomesAreRecorded() {
        let tracer = InMemoryTracer()
        func outcome(_ decision: AttemptDecision, _ result: HandlerResult) -> (SpanAttribute?, SpanStatus?) {
            let span = tracer.startSpan("a")
            TaskTracing.recordAttempt(decision, result: result, on: span)
            span.end()
            let finished = tracer.popFinishedSpans()[0]
            return (finished.attributes[TaskTracing.outcome]?.toSpanAttribute(), finished.status)
        }
        #expect(outcome(AttemptDecision(status: .completed), .success).0 == .string("completed"))
        #expect(outcome(AttemptDecision(status: .completed), .success).1 == nil)
        #expect(
            outcome(AttemptDecision(status: .failed, error: "boom"), .failure(TerminalTaskError("boom"))) == (
                .string("dead_letter"), SpanStatus(code: .error, message: "boom")
            ))
        #expect(outcome(AttemptDecision(status: .retrying, error: "interrupted"), .interrupted) == (.string("interrupted"), nil))
        #expect(outcome(AttemptDecision(status: .cancelled, error: "cancelled"), .success) == (.string("cancelled"), nil))
        let timedOut = tracer.startSpan("t")
        TaskTracing.recordAttempt(
            AttemptDecision(status: .retrying, error: "timed out"), result: .failure(TaskTimeoutError(timeout: .seconds(1))), on: timedOut)
        timedOut.end()
        let finished = tracer.popFinishedSpans()[0]
        #expect(finished.attributes["taskflow.task.timed_out"]?.toSpanAttribute() == .bool(true))
        #expect(finished.attributes[TaskTracing.outcome]?.toSpanAttribute() == .string("retry"))
    }
}
