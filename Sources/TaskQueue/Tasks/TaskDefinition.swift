import Foundation

/// A task type bound to its payload type and its options, shared by the code that enqueues and
/// the code that handles it, so that enqueueing the wrong payload for a name does not compile.
///
/// ```swift
/// struct Email: Codable, Sendable { var to: String; var subject: String }
///
/// let sendEmail = TaskDefinition<Email>("email.send", priority: .high, maxAttempts: 3,
///                                       retry: .exponentialJitter(base: .seconds(1), cap: .seconds(300)),
///                                       timeout: .seconds(30))
///
/// try await queue.enqueue(sendEmail, Email(to: "a@example.com", subject: "Hi"))
/// try registry.register(sendEmail) { email, context in try await mailer.send(email) }
/// ```
///
/// The options are defaults: `priority` and `maxAttempts` are stored with each task when it is
/// enqueued (an enqueue may override the priority; set ``NewTask/maxAttempts`` on the task from
/// ``task(_:priority:runAt:delay:idempotencyKey:)`` to change the budget of one task); `retry`
/// and `timeout` apply in the worker that registered the definition, in place of its
/// ``WorkerConfiguration`` defaults.
public struct TaskDefinition<Payload: Codable & Sendable>: Sendable {
    /// The task type name (1-128 characters from `[A-Za-z0-9._:-]`).
    public let name: String
    /// Priority of the tasks enqueued with this definition.
    public var priority: TaskPriority
    /// Attempts each task gets; nil takes the queue's default.
    public var maxAttempts: Int?
    /// Retry strategy for this type; nil takes the worker's.
    public var retry: RetryStrategy?
    /// Longest one attempt may run; nil takes the worker's.
    public var timeout: Duration?
    /// Fleet-wide limits on the type, declared when a worker that registered the definition
    /// starts (see ``TaskTypeLimits``); nil declares none. A change made at run time (REST or
    /// ``TaskQueue/setLimits(_:for:)``) stands until the declaration in code changes.
    public var limits: TaskTypeLimits?

    /// A definition named `name` for payloads of type `Payload`.
    public init(
        _ name: String, payload: Payload.Type = Payload.self, priority: TaskPriority = .normal, maxAttempts: Int? = nil,
        retry: RetryStrategy? = nil, timeout: Duration? = nil, limits: TaskTypeLimits? = nil
    ) {
        self.name = name
        self.limits = limits
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.retry = retry
        self.timeout = timeout
    }

    /// The task to enqueue for `payload`, with the definition's options unless overridden here.
    public func task(
        _ payload: Payload, priority: TaskPriority? = nil, runAt: Date? = nil, delay: Duration? = nil,
        idempotencyKey: String? = nil
    ) throws -> NewTask {
        try NewTask(
            type: name, payload: payload, priority: priority ?? self.priority, maxAttempts: maxAttempts,
            runAt: runAt, delay: delay, idempotencyKey: idempotencyKey)
    }
}
