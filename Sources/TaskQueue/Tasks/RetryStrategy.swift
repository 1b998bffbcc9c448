/// Decides whether a failed attempt runs again and after how long.
///
/// A strategy sees the error and the attempt. The built-in ones are
/// ``exponentialJitter(base:cap:jitter:)``, ``fixed(_:)`` and ``noRetry`` (not `none`, which an
/// optional parameter would read as "no strategy given"); ``custom(_:)`` takes your own rule. A
/// ``TaskDefinition`` may carry one; tasks without one use the worker's
/// (``WorkerConfiguration/retry``).
///
/// Whatever the strategy says, a task never gets more attempts than its `maxAttempts`, a
/// ``TerminalTaskError`` fails it at once and a ``RetryAfter`` error sets the delay itself.
public struct RetryStrategy: Sendable {
    enum Rule: Sendable {
        case exponential(base: Duration, cap: Duration, jitter: Double)
        case fixed(Duration)
        case never
        case custom(@Sendable (RetryContext) -> RetryDecision)
    }

    let rule: Rule

    /// Exponential backoff with "equal jitter": after failed attempt *n* the nominal delay is
    /// `base × 2^(n-1)`, capped at `cap`, of which the fraction `jitter` is randomised (0 = none,
    /// 1 = anywhere from 0 to the delay), so tasks failing together do not retry in lockstep.
    public static func exponentialJitter(base: Duration = .milliseconds(500), cap: Duration = .seconds(10), jitter: Double = 0.5) -> RetryStrategy {
        RetryStrategy(rule: .exponential(base: base, cap: max(base, cap), jitter: min(max(jitter, 0), 1)))
    }

    /// The same delay after every failed attempt.
    public static func fixed(_ delay: Duration) -> RetryStrategy {
        RetryStrategy(rule: .fixed(max(delay, .zero)))
    }

    /// No retries: the first failure is final.
    public static var noRetry: RetryStrategy { RetryStrategy(rule: .never) }

    /// Your own rule: it sees the error and the attempt and returns `.retry(after:)` or `.fail`.
    public static func custom(_ decide: @escaping @Sendable (RetryContext) -> RetryDecision) -> RetryStrategy {
        RetryStrategy(rule: .custom(decide))
    }

    /// What the strategy says about one failed attempt (attempt budget aside).
    public func decide(_ context: RetryContext) -> RetryDecision {
        switch rule {
        case .exponential(let base, let cap, let jitter):
            .retry(after: Self.exponentialDelay(attempt: context.attempt, base: base, cap: cap, jitter: jitter, random: Double.random(in: 0...1)))
        case .fixed(let delay):
            .retry(after: delay)
        case .never:
            .fail
        case .custom(let decide):
            decide(context)
        }
    }

    /// The exponential delay after failed attempt `attempt` (1-based), for a given random draw in 0...1.
    static func exponentialDelay(attempt: Int, base: Duration, cap: Duration, jitter: Double, random: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 62)
        var factor = 1.0
        for _ in 0..<exponent {
            factor *= 2
            if factor > 1e12 { break }
        }
        let nominal = min(base.seconds * factor, cap.seconds)
        let seconds = nominal * (1 - jitter) + nominal * jitter * random
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// What a ``RetryStrategy`` knows about a failed attempt.
public struct RetryContext: Sendable {
    /// What the handler threw (a ``TaskTimeoutError`` when the attempt ran past its timeout).
    public let error: any Error
    /// The failed attempt's number within the current run (1-based).
    public let attempt: Int
    /// Attempts allowed in the current run.
    public let maxAttempts: Int
    /// The task's type.
    public let type: String

    /// A context; the worker makes these, tests of a custom strategy may too.
    public init(error: any Error, attempt: Int, maxAttempts: Int, type: String) {
        self.error = error
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.type = type
    }
}

/// A ``RetryStrategy``'s answer.
public enum RetryDecision: Sendable, Equatable {
    /// Run the task again after this delay (if attempts are left).
    case retry(after: Duration)
    /// Fail the task now; it goes to the dead letters.
    case fail
}
