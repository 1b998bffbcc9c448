/// Code that runs around every enqueue and every attempt: logging, metrics, tracing, tenancy
/// checks. Pass middleware to ``TaskQueue/connect(configuration:middleware:tracer:logger:)``; workers
/// on that queue run the attempt hooks.
///
/// Both hooks have pass-through defaults, so a middleware implements only what it needs. The
/// first middleware in the list is the outermost. Each hook must call `next` exactly once to let
/// the work proceed (or throw instead).
///
/// ```swift
/// struct Timing: TaskMiddleware {
///     func run(_ task: TaskRecord, context: TaskContext,
///              next: @Sendable (TaskContext) async throws -> Void) async throws {
///         let start = ContinuousClock.now
///         defer { context.logger.info("ran in \(ContinuousClock.now - start)") }
///         try await next(context)
///     }
/// }
/// ```
public protocol TaskMiddleware: Sendable {
    /// Runs around an enqueue of one or more tasks (a single enqueue, a batch, or an enqueue in a
    /// transaction). It may change the tasks before passing them on; `next` validates, stores
    /// and publishes them and returns their results in order.
    func enqueue(_ tasks: [NewTask], next: @Sendable ([NewTask]) async throws -> [EnqueueResult]) async throws -> [EnqueueResult]

    /// Runs around one attempt of a claimed task. `next` decodes the payload and runs the
    /// handler; what it throws decides the attempt's outcome (rethrow it, or throw another error).
    func run(_ task: TaskRecord, context: TaskContext, next: @Sendable (TaskContext) async throws -> Void) async throws
}

extension TaskMiddleware {
    /// Passes the tasks on unchanged.
    public func enqueue(_ tasks: [NewTask], next: @Sendable ([NewTask]) async throws -> [EnqueueResult]) async throws -> [EnqueueResult] {
        try await next(tasks)
    }

    /// Runs the attempt unchanged.
    public func run(_ task: TaskRecord, context: TaskContext, next: @Sendable (TaskContext) async throws -> Void) async throws {
        try await next(context)
    }
}

/// The middleware of a queue, as one chain.
struct MiddlewareChain: Sendable {
    let middleware: [any TaskMiddleware]

    var isEmpty: Bool { middleware.isEmpty }

    func enqueue(_ tasks: [NewTask], last: @escaping @Sendable ([NewTask]) async throws -> [EnqueueResult]) async throws -> [EnqueueResult] {
        var next = last
        for item in middleware.reversed() {
            let inner = next
            next = { tasks in try await item.enqueue(tasks, next: inner) }
        }
        return try await next(tasks)
    }

    func run(_ task: TaskRecord, context: TaskContext, last: @escaping @Sendable (TaskContext) async throws -> Void) async throws {
        var next = last
        for item in middleware.reversed() {
            let inner = next
            next = { context in try await item.run(task, context: context, next: inner) }
        }
        try await next(context)
    }
}
