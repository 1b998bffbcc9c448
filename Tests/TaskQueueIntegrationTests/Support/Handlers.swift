import Foundation
import Testing
import Tracing

@testable import TaskQueue

/// The handlers the integration tests run.
func testRegistry(_ log: RunLog) throws -> TaskHandlerRegistry {
    let registry = TaskHandlerRegistry()
    try registry.register("noop", payload: Empty.self) { _, context in
        log.started(context.taskID)
        log.succeeded(context.taskID)
    }
    try registry.register("slow", payload: SlowPayload.self) { payload, context in
        log.started(context.taskID)
        try await Task.sleep(for: .milliseconds(payload.ms))
        log.succeeded(context.taskID)
    }
    try registry.register("flaky", payload: Flaky.self) { payload, context in
        log.started(context.taskID)
        if context.attempt <= payload.failures { throw FlakyError(attempt: context.attempt) }
        log.succeeded(context.taskID)
    }
    try registry.register("terminal", payload: Empty.self) { _, context in
        log.started(context.taskID)
        throw TerminalTaskError("this task can never succeed")
    }
    try registry.register("stubborn", payload: SlowPayload.self) { payload, context in
        // Waits without looking at cancellation, like work that cannot be interrupted.
        log.started(context.taskID)
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(payload.ms)) { continuation.resume() }
        }
        log.succeeded(context.taskID)
    }
    return registry
}

struct SlowPayload: Codable, Sendable { var ms: Int }

extension TestEnvironment {
    /// Runs `body` with a fresh environment and always removes it afterwards.
    static func with(
        _ label: String = #function, lease: Duration = .seconds(30), tracer: (any Tracer)? = nil,
        _ body: (TestEnvironment) async throws -> Void
    ) async throws {
        let environment = try await make(label, lease: lease, tracer: tracer)
        do {
            try await body(environment)
        } catch {
            await environment.tearDown()
            throw error
        }
        await environment.tearDown()
    }

    /// Waits until every consumer has nothing pending or unacknowledged and the stream is empty.
    func waitForEmptyStream(timeout: Duration = .seconds(15), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var state = try await queue.streamState()
        while clock.now < deadline {
            state = try await queue.streamState()
            if state.work?.messages == 0, state.consumers.allSatisfy({ $0.pending == 0 && $0.ackPending == 0 }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("stream not empty: \(String(describing: state.work)) \(state.consumers)", sourceLocation: sourceLocation)
        throw TestTimeout()
    }
}
