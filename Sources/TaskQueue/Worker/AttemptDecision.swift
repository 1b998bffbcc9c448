/// How an attempt's handler ended, as the worker saw it.
enum HandlerResult: Sendable {
    case success
    /// The handler threw (or the attempt timed out, with `TaskTimeoutError`).
    case failure(any Error)
    /// The worker stopped it (shutdown past its grace): not the handler's failure.
    case interrupted
}

/// What an attempt's outcome means for its task: the one place that applies the retry rules.
struct AttemptDecision: Sendable, Equatable {
    /// `completed`, `retrying`, `failed` or `cancelled`.
    var status: AttemptOutcome.Status
    var error: String?
    /// For `retrying`: how long until the next attempt.
    var retryDelay: Duration = .zero

    /// - A terminal error fails the task at once.
    /// - Any other failure retries while the run has attempts left: after the handler's own
    ///   `RetryAfter` delay, else as `strategy` decides (which may also fail it).
    /// - An interrupted attempt runs again at once: it is recorded, but the work did not fail.
    /// - An attempt whose cancel was asked for ends the task cancelled, whatever the handler did.
    static func decide(
        _ result: HandlerResult, strategy: RetryStrategy, attemptInRun: Int, maxAttempts: Int, type: String,
        interruptedBy workerID: String, cancelRequested: Bool = false
    ) -> AttemptDecision {
        if cancelRequested {
            let ending: String
            switch result {
            case .success: ending = "; the handler returned success afterwards, which was discarded"
            case .failure(let error) where !(error is CancellationError): ending = ": \((error as? RetryAfter)?.message ?? String(describing: error))"
            default: ending = ""
            }
            return AttemptDecision(status: .cancelled, error: "cancelled on request while running" + ending)
        }
        switch result {
        case .success:
            return AttemptDecision(status: .completed)
        case .interrupted:
            return AttemptDecision(status: .retrying, error: "interrupted: worker \(workerID) shut down before the task finished")
        case .failure(let error as TerminalTaskError):
            return AttemptDecision(status: .failed, error: error.message)
        case .failure(let error):
            let message = (error as? RetryAfter)?.message ?? String(describing: error)
            guard attemptInRun < maxAttempts else {
                return AttemptDecision(status: .failed, error: "attempts exhausted (\(attemptInRun) of \(maxAttempts)): \(message)")
            }
            if let requested = error as? RetryAfter {
                return AttemptDecision(status: .retrying, error: message, retryDelay: requested.delay)
            }
            switch strategy.decide(RetryContext(error: error, attempt: attemptInRun, maxAttempts: maxAttempts, type: type)) {
            case .retry(let delay):
                return AttemptDecision(status: .retrying, error: message, retryDelay: max(delay, .zero))
            case .fail:
                return AttemptDecision(status: .failed, error: message)
            }
        }
    }
}
