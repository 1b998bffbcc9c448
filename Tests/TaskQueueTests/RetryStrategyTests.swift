import Testing

@testable import TaskQueue

@Suite struct RetryStrategyTests {
    struct Boom: Error {}

    func context(_ attempt: Int, _ error: any Error = Boom()) -> RetryContext {
        RetryContext(error: error, attempt: attempt, maxAttempts: 5, type: "t")
    }

    @Test func backoffDoublesUpToTheCap() {
        func delay(_ attempt: Int) -> Duration {
            RetryStrategy.exponentialDelay(attempt: attempt, base: .milliseconds(500), cap: .seconds(10), jitter: 0, random: 0.3)
        }
        #expect(delay(1) == .milliseconds(500))
        #expect(delay(2) == .seconds(1))
        #expect(delay(3) == .seconds(2))
        #expect(delay(6) == .seconds(10))
        #expect(delay(500) == .seconds(10))
        #expect(RetryStrategy.exponentialJitter(base: .milliseconds(500), cap: .seconds(10), jitter: 0).decide(context(2)) == .retry(after: .seconds(1)))
    }

    @Test func jitterStaysWithinItsShare() {
        #expect(RetryStrategy.exponentialDelay(attempt: 2, base: .seconds(1), cap: .seconds(60), jitter: 0.5, random: 0) == .seconds(1))
        #expect(RetryStrategy.exponentialDelay(attempt: 2, base: .seconds(1), cap: .seconds(60), jitter: 0.5, random: 1) == .seconds(2))
        let strategy = RetryStrategy.exponentialJitter(base: .seconds(1), cap: .seconds(60), jitter: 0.5)
        for _ in 0..<200 {
            guard case .retry(let delay) = strategy.decide(context(3)) else {
                Issue.record("exponential backoff gave up")
                return
            }
            #expect(delay >= .seconds(2) && delay <= .seconds(4))
        }
    }

    @Test func fixedNoneAndCustom() {
        #expect(RetryStrategy.fixed(.seconds(3)).decide(context(1)) == .retry(after: .seconds(3)))
        #expect(RetryStrategy.fixed(.seconds(3)).decide(context(4)) == .retry(after: .seconds(3)))
        #expect(RetryStrategy.noRetry.decide(context(1)) == .fail)
        // A user's rule sees the error and the attempt.
        struct RateLimited: Error {}
        let custom = RetryStrategy.custom { context in
            context.error is RateLimited ? .retry(after: .seconds(60 * context.attempt)) : .fail
        }
        #expect(custom.decide(context(2, RateLimited())) == .retry(after: .seconds(120)))
        #expect(custom.decide(context(2)) == .fail)
    }
}

@Suite struct AttemptDecisionTests {
    struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
    let fixed = RetryStrategy.fixed(.seconds(2))

    func decide(_ result: HandlerResult, _ strategy: RetryStrategy? = nil, attempt: Int = 1, of max: Int = 3) -> AttemptDecision {
        AttemptDecision.decide(result, strategy: strategy ?? fixed, attemptInRun: attempt, maxAttempts: max, type: "t", interruptedBy: "w")
    }

    @Test func successCompletes() {
        #expect(decide(.success) == AttemptDecision(status: .completed))
    }

    @Test func aFailureRetriesWhileAttemptsAreLeftThenFails() {
        #expect(decide(.failure(Boom()), attempt: 1) == AttemptDecision(status: .retrying, error: "boom", retryDelay: .seconds(2)))
        #expect(decide(.failure(Boom()), attempt: 2) == AttemptDecision(status: .retrying, error: "boom", retryDelay: .seconds(2)))
        #expect(decide(.failure(Boom()), attempt: 3) == AttemptDecision(status: .failed, error: "attempts exhausted (3 of 3): boom"))
    }

    @Test func aTerminalErrorFailsAtOnce() {
        #expect(decide(.failure(TerminalTaskError("bad address")), attempt: 1) == AttemptDecision(status: .failed, error: "bad address"))
    }

    @Test func theHandlersRetryAfterWinsOverTheStrategyButNotOverTheBudget() {
        #expect(
            decide(.failure(RetryAfter(.seconds(30), "rate limited")), .noRetry)
                == AttemptDecision(status: .retrying, error: "rate limited", retryDelay: .seconds(30)))
        #expect(
            decide(.failure(RetryAfter(.seconds(30), "rate limited")), attempt: 3)
                == AttemptDecision(status: .failed, error: "attempts exhausted (3 of 3): rate limited"))
    }

    @Test func theStrategyMayGiveUpEarly() {
        #expect(decide(.failure(Boom()), .noRetry) == AttemptDecision(status: .failed, error: "boom"))
    }

    @Test func aTimeoutIsARetryableFailureRecordedAsATimeout() {
        let decision = decide(.failure(TaskTimeoutError(timeout: .seconds(30))))
        #expect(decision.status == .retrying)
        #expect(decision.error == "timed out after 30.0 seconds")
    }

    @Test func anInterruptedAttemptRunsAgainAtOnce() {
        let decision = decide(.interrupted, attempt: 3)
        #expect(decision.status == .retrying)
        #expect(decision.retryDelay == .zero)
        #expect(decision.error?.hasPrefix("interrupted") == true)
    }
}
