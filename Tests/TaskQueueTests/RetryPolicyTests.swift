import Testing
@testable import TaskQueue

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesUpToTheCap() {
        let policy = RetryPolicy(base: .milliseconds(500), cap: .seconds(10), jitter: 0)
        #expect(policy.backoff(attempt: 1) == .milliseconds(500))
        #expect(policy.backoff(attempt: 2) == .seconds(1))
        #expect(policy.backoff(attempt: 3) == .seconds(2))
        #expect(policy.backoff(attempt: 6) == .seconds(10))
        #expect(policy.backoff(attempt: 500) == .seconds(10))
    }

    @Test func jitterStaysWithinItsShare() {
        let policy = RetryPolicy(base: .seconds(1), cap: .seconds(60), jitter: 0.5)
        #expect(policy.backoff(attempt: 2, random: 0) == .seconds(1))
        #expect(policy.backoff(attempt: 2, random: 1) == .seconds(2))
        for _ in 0..<200 {
            let delay = policy.backoff(attempt: 3)
            #expect(delay >= .seconds(2) && delay <= .seconds(4))
        }
    }

    @Test func retriesUntilTheBudgetIsSpent() {
        let policy = RetryPolicy.exponentialJitter()
        #expect(policy.shouldRetry(attemptsInRun: 1, maxAttempts: 3))
        #expect(policy.shouldRetry(attemptsInRun: 2, maxAttempts: 3))
        #expect(!policy.shouldRetry(attemptsInRun: 3, maxAttempts: 3))
    }
}
