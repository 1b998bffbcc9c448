/// Thrown by a handler when retrying cannot help: the task fails at once and goes to the DLQ.
public struct TerminalTaskError: Error, Sendable, CustomStringConvertible {
    /// Why the task failed; recorded as its error.
    public let message: String
    /// A terminal failure with its reason.
    public init(_ message: String) { self.message = message }
    /// The reason.
    public var description: String { message }
}

/// Thrown by a handler to choose when the task runs again (for example what a rate-limited
/// service answered in its `Retry-After`), instead of the retry strategy's delay. The attempt
/// still counts against `maxAttempts`.
public struct RetryAfter: Error, Sendable, CustomStringConvertible {
    /// How long to wait before the next attempt.
    public let delay: Duration
    /// Why the attempt failed; recorded as its error.
    public let message: String

    /// Retry after `delay`, recording `message` as the attempt's error.
    public init(_ delay: Duration, _ message: String = "retry requested") {
        self.delay = max(delay, .zero)
        self.message = message
    }

    /// The reason and the delay.
    public var description: String { "\(message) (retry after \(delay))" }
}

/// The error a ``RetryStrategy`` sees when an attempt ran past its timeout. Such an attempt is a
/// retryable failure, recorded as a timeout.
public struct TaskTimeoutError: Error, Sendable, CustomStringConvertible {
    /// The timeout that passed.
    public let timeout: Duration
    /// "timed out after …".
    public var description: String { "timed out after \(timeout)" }
}
