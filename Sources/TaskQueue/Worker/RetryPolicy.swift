/// When and how soon a failed attempt runs again: exponential backoff from `base`, capped at
/// `cap`, with jitter so that many tasks failing together do not retry in lockstep.
public struct RetryPolicy: Sendable, Equatable {
    /// Delay before the second attempt (before jitter).
    public var base: Duration
    /// Longest delay between attempts.
    public var cap: Duration
    /// Fraction of each delay that is randomised (0 = none, 1 = anywhere from 0 to the delay).
    public var jitter: Double

    public init(base: Duration, cap: Duration, jitter: Double = 0.5) {
        self.base = base
        self.cap = max(base, cap)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// Exponential backoff with "equal jitter": each delay is at least `(1 - jitter)` of its nominal value.
    public static func exponentialJitter(base: Duration = .milliseconds(500), cap: Duration = .seconds(10), jitter: Double = 0.5) -> RetryPolicy {
        RetryPolicy(base: base, cap: cap, jitter: jitter)
    }

    /// True when a task that has made `attemptsInRun` attempts (in this run) may try again.
    public func shouldRetry(attemptsInRun: Int, maxAttempts: Int) -> Bool {
        attemptsInRun < maxAttempts
    }

    /// The delay after failed attempt number `attempt` (1-based): base × 2^(attempt-1), capped, jittered.
    public func backoff(attempt: Int) -> Duration {
        backoff(attempt: attempt, random: Double.random(in: 0...1))
    }

    func backoff(attempt: Int, random: Double) -> Duration {
        let exponent = Double(min(max(attempt - 1, 0), 62))
        let nominal = min(base.seconds * pow2(exponent), cap.seconds)
        let seconds = nominal * (1 - jitter) + nominal * jitter * random
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2; if value > 1e12 { break } }
        return value
    }
}
