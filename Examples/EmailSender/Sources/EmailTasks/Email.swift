import TaskQueue

/// An e-mail to send: the payload of ``sendEmail`` tasks, stored as JSON with each task.
public struct Email: Codable, Sendable, Equatable {
    public var to: String
    public var subject: String
    public var body: String

    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }
}

/// The `email.send` task type, shared by the code that enqueues e-mails and the worker that sends
/// them: enqueueing anything but an ``Email`` under this name does not compile.
///
/// High priority (a password reset should not wait behind a newsletter), three attempts, retries
/// after about 200 ms, 400 ms, … at most 2 s, and ten seconds per attempt before it counts as a
/// failure. `priority` and `maxAttempts` are stored with each task; `retry` and `timeout` apply
/// in the worker that registers the definition.
public let sendEmail = TaskDefinition<Email>(
    "email.send",
    priority: .high,
    maxAttempts: 3,
    retry: .exponentialJitter(base: .milliseconds(200), cap: .seconds(2)),
    timeout: .seconds(10)
)
