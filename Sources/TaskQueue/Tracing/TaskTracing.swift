import Foundation
import Tracing

/// The spans TaskFlow records, and their attribute names.
///
/// - `enqueue` (producer): one task enqueued, a child of the caller's span. Its context is stored
///   with the task, and the task's attempts are its children.
/// - `enqueue batch` (producer): one ``TaskQueue/enqueueBatch(_:)-(_)`` call; its tasks' attempts
///   link to it.
/// - `schedule <name>` (producer): one fire of a schedule; the task it creates links to it.
/// - `task <type>` (consumer): one attempt, in the worker.
enum TaskTracing {
    static let taskID = "taskflow.task.id"
    static let taskType = "taskflow.task.type"
    static let priority = "taskflow.task.priority"
    static let attempt = "taskflow.task.attempt"
    static let maxAttempts = "taskflow.task.max_attempts"
    static let queueWaitMilliseconds = "taskflow.task.queue_wait_ms"
    static let outcome = "taskflow.task.outcome"
    static let existing = "taskflow.task.existing"
    static let workerID = "taskflow.worker.id"
    static let batchSize = "taskflow.batch.size"
    static let scheduleName = "taskflow.schedule.name"
    static let fireTime = "taskflow.schedule.fire_time"
    static let messagingSystem = "messaging.system"

    /// The tracer to record with, or nil when tracing is off (the no-op tracer): then enqueues
    /// and attempts skip every tracing step, not just the export.
    static func active(_ tracer: (any Tracer)?) -> (any Tracer)? {
        guard let tracer, !(tracer is NoOpTracer) else { return nil }
        return tracer
    }

    /// Runs one enqueue in an `enqueue` span that a child of the caller's span; the task carries
    /// the span's context to its attempts.
    static func enqueue(
        _ task: NewTask, tracer: any Tracer, _ body: (NewTask) async throws -> EnqueueResult
    ) async throws -> EnqueueResult {
        let span = tracer.startSpan("enqueue", context: ServiceContext.current ?? .topLevel, ofKind: .producer)
        defer { span.end() }
        // An unsampled span drops its attributes: not making them saves most of its cost.
        let recording = span.isRecording
        if recording {
            span.attributes[taskType] = task.type
            span.attributes[priority] = task.priority.rawValue
            span.attributes[messagingSystem] = "taskflow"
        }
        var task = task
        task.trace = TaskTrace.capture(span.context, tracer: tracer, relation: .parent)
        do {
            let result = try await ServiceContext.withValue(span.context) { try await body(task) }
            if recording {
                span.attributes[taskID] = result.task.id.lowercasedText
                if !result.created { span.attributes[existing] = true }
            }
            return result
        } catch {
            fail(span, error)
            throw error
        }
    }

    /// Runs one batch enqueue in an `enqueue batch` span; each task links its attempts to it.
    static func enqueueBatch(
        _ tasks: [NewTask], tracer: any Tracer, _ body: ([NewTask]) async throws -> [EnqueueResult]
    ) async throws -> [EnqueueResult] {
        let span = tracer.startSpan("enqueue batch", context: ServiceContext.current ?? .topLevel, ofKind: .producer)
        defer { span.end() }
        span.attributes[batchSize] = tasks.count
        span.attributes[messagingSystem] = "taskflow"
        let trace = TaskTrace.capture(span.context, tracer: tracer, relation: .link)
        let linked = tasks.map { task in
            var task = task
            task.trace = trace
            return task
        }
        do {
            return try await ServiceContext.withValue(span.context) { try await body(linked) }
        } catch {
            fail(span, error)
            throw error
        }
    }

    /// Starts an attempt's `task <type>` span: a child of the enqueue span when the task was
    /// enqueued on its own, the root of a new trace linked to the batch's or the schedule fire's
    /// span otherwise, and a root of its own for a task enqueued while tracing was off.
    static func startAttempt(_ task: TaskRecord, tracer: any Tracer, workerID: String, waited: TimeInterval) -> any Span {
        var parent = ServiceContext.topLevel
        var link: ServiceContext?
        if let trace = task.trace {
            switch trace.relation {
            case .parent: parent = trace.context(tracer: tracer)
            case .link: link = trace.context(tracer: tracer)
            }
        }
        let span = tracer.startSpan("task \(task.type)", context: parent, ofKind: .consumer)
        // Unsampled (most attempts at a low ratio): its attributes would be dropped unread.
        guard span.isRecording else { return span }
        if let link { span.addLink(SpanLink(context: link, attributes: [:])) }
        span.attributes[taskID] = task.id.lowercasedText
        span.attributes[taskType] = task.type
        span.attributes[priority] = task.priority.rawValue
        span.attributes[attempt] = task.attempts
        span.attributes[maxAttempts] = task.maxAttempts
        span.attributes[queueWaitMilliseconds] = max(0, waited * 1000)
        span.attributes[Self.workerID] = workerID
        span.attributes[messagingSystem] = "taskflow"
        return span
    }

    /// Records how an attempt ended on its span: the outcome (`completed`, `retry`,
    /// `dead_letter`, `cancelled`, `interrupted`, `timeout` then retry or dead letter), and for a
    /// failure the error and an error status.
    static func recordAttempt(_ decision: AttemptDecision, result: HandlerResult, on span: any Span) {
        guard span.isRecording else { return }
        var outcome: String
        switch decision.status {
        case .completed: outcome = "completed"
        case .retrying: outcome = "retry"
        case .failed: outcome = "dead_letter"
        case .cancelled: outcome = "cancelled"
        }
        switch result {
        case .interrupted where decision.status == .retrying:
            outcome = "interrupted"
        case .failure(let error) where decision.status == .retrying || decision.status == .failed:
            if error is TaskTimeoutError { span.attributes["taskflow.task.timed_out"] = true }
            fail(span, error, message: decision.error)
        default:
            break
        }
        span.attributes[Self.outcome] = outcome
    }

    /// When the attempt's outcome could not be written (it runs again) or another worker's
    /// takeover made it moot.
    static func recordUnwritten(_ reason: String, on span: any Span) {
        guard span.isRecording else { return }
        span.attributes[outcome] = reason
        span.setStatus(SpanStatus(code: .error, message: "attempt outcome \(reason)"))
    }

    /// Runs one fire of a schedule in a `schedule <name>` span (a child of `parent`: a trigger's
    /// request, else a new trace); `body` inserts the task with the span's context to link to.
    static func fire(
        _ schedule: Schedule, at fireTime: Date?, tracer: (any Tracer)?, parent: ServiceContext,
        _ body: (TaskTrace?) throws -> PublishTarget?
    ) throws -> PublishTarget? {
        guard let tracer else { return try body(nil) }
        let span = tracer.startSpan("schedule \(schedule.name)", context: parent, ofKind: .producer)
        defer { span.end() }
        span.attributes[scheduleName] = schedule.name
        span.attributes[taskType] = schedule.type
        span.attributes[messagingSystem] = "taskflow"
        if let fireTime { span.attributes[Self.fireTime] = Timestamp.format(fireTime) }
        do {
            let target = try body(TaskTrace.capture(span.context, tracer: tracer, relation: .link))
            if let target { span.attributes[taskID] = target.taskID.lowercasedText } else { span.attributes["taskflow.schedule.fired_already"] = true }
            return target
        } catch {
            fail(span, error)
            throw error
        }
    }

    /// Marks a span failed by `error`: the error recorded, an error status.
    static func fail(_ span: any Span, _ error: any Error, message: String? = nil) {
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error, message: message ?? "\(error)"))
    }
}
