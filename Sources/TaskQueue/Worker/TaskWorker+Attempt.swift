import Foundation
import Logging
import Tracing

/// One attempt: the handler (with its timeout and the queue's middleware), the retry decision,
/// the outcome's write, and the message's ack or nak.
extension TaskWorker {
    // MARK: Running one attempt

    func process(_ task: TaskRecord, message: JetStreamMessage) async {
        let now = Date()
        guard let tracer else { return await runAttempt(task, message: message, startedAt: now, span: nil) }
        let span = TaskTracing.startAttempt(
            task, tracer: tracer, workerID: configuration.workerID, waited: now.timeIntervalSince(max(task.createdAt, task.runAt)))
        // The handler, its HTTP calls and the worker's log lines about the attempt see the span.
        await ServiceContext.withValue(span.context) { await runAttempt(task, message: message, startedAt: now, span: span) }
        span.end()
    }

    private func runAttempt(_ task: TaskRecord, message: JetStreamMessage, startedAt now: Date, span: (any Span)?) async {
        let entry = registry.entry(for: task.type)
        let typeLabel = entry == nil ? WorkerMetrics.unregisteredType : task.type
        let timeout = entry?.timeout ?? configuration.taskTimeout
        let context = TaskContext(
            task: task, deadline: timeout.map { ContinuousClock.now + $0 },
            workerID: configuration.workerID, logger: logger)
        // The task's logger is made only for a line that will be written: adding its metadata
        // for every task cost a few percent of the worker's CPU.
        let debugging = logger.logLevel <= .debug
        if debugging { context.logger.debug("task started") }
        WorkerMetrics.queueWait(task.priority).recordNanoseconds(Int64(max(0, now.timeIntervalSince(task.createdAt)) * 1e9))
        startLatency.record(waited: now.timeIntervalSince(max(task.createdAt, task.runAt)), at: now)
        let handler = AttemptTask.current
        running.withLock { $0[task.id] = RunningAttempt(message: message, attempt: task.attempts, handler: handler) }
        let started = ContinuousClock.now
        let result = await runHandler(entry, task, context: context, timeout: timeout)
        // From here on a cancel request no longer cancels this task (its outcome is being written;
        // the finish statement turns it into `cancelled` if the request came in meanwhile).
        let cancelRequested = running.withLock { attempts in
            attempts[task.id]?.handler = nil
            return attempts[task.id]?.cancelRequested ?? false
        }
        WorkerMetrics.runTime(typeLabel).recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        // The handler is done, so its slot is free for the next task: `concurrency` bounds the
        // handlers running at once, not the outcomes waiting for their database write. Holding
        // the slot through the write left slots idle for a round trip per task.
        await buffer.release()
        // The attempt stays in `running` until its outcome is recorded, so the heartbeat keeps the
        // message (InProgress) and the lease alive while PostgreSQL is briefly unreachable; the
        // finished work is not run a second time.
        defer { running.withLock { _ = $0.removeValue(forKey: task.id) } }

        let decision = AttemptDecision.decide(
            result, strategy: entry?.retry ?? configuration.retry, attemptInRun: context.attemptInRun,
            maxAttempts: task.maxAttempts, type: task.type, interruptedBy: configuration.workerID, cancelRequested: cancelRequested)
        var outcome = AttemptOutcome(taskID: task.id, attempt: task.attempts, status: decision.status)
        outcome.error = decision.error
        if decision.status == .retrying { outcome.retryDelay = decision.retryDelay }
        if let span { TaskTracing.recordAttempt(decision, result: result, on: span) }

        switch await batcher.submit(outcome) {
        case .success(true):
            WorkerMetrics.finished(type: typeLabel, status: outcome.status.rawValue, priority: task.priority).increment()
            // A slot of a limited type is free: the release of its held tasks looks at once.
            if limitedTypes.withLock({ !$0.isEmpty && $0.contains(task.type) }) { releaseWake.yield() }
            switch outcome.status {
            case .cancelled:
                WorkerMetrics.cancelledRunning.increment()
                context.logger.info("task cancelled on request while running")
                try? message.ack()
            case .completed:
                if debugging { context.logger.debug("task completed") }
                try? message.ack()
            case .retrying:
                if debugging {
                    context.logger.debug("task will retry", metadata: [LogKey.error: "\(outcome.error ?? "")", "retry.delay": "\(decision.retryDelay)"])
                }
                try? message.nak(delay: max(decision.retryDelay, .milliseconds(1)))
            default:
                context.logger.info("task failed", metadata: [LogKey.error: "\(outcome.error ?? "")"])
                do {
                    // The failed row as recorded (its final error and attempt count) is the letter.
                    guard let failed = try await store.task(task.id) else {
                        throw TaskQueueError(.taskNotFound, "task \(task.id) is gone", taskID: task.id)
                    }
                    // A cancel asked for as the attempt ended made it cancelled, not failed: no letter.
                    if failed.status == .failed { try await publisher.publishDeadLetter(failed) }
                } catch {
                    context.logger.warning("dead letter not published; the reconciler will", metadata: [LogKey.error: "\(error)"])
                }
                try? message.ack()
            }
        case .success(false):
            // Our lease had expired and another worker took the task over; its result stands.
            context.logger.warning("attempt outcome discarded: the task moved on without this worker")
            if let span { TaskTracing.recordUnwritten("discarded", on: span) }
            try? message.ack()
        case .failure(let error):
            // Leave the message unacknowledged: JetStream redelivers it after AckWait, the lease
            // will have expired, and the next claim closes this attempt and runs the task again.
            context.logger.error("attempt outcome not recorded; the task will run again", metadata: [LogKey.error: "\(error)"])
            if let span { TaskTracing.recordUnwritten("not recorded", on: span) }
        }
    }

    /// Runs the handler in the attempt's own task. A forced stop cancels that task (see
    /// `runUntilDrained`), and so does a cancel request (see `cancelRequestLoop`); a timeout races
    /// the handler against a sleep and cancels the loser.
    func runHandler(_ entry: TaskHandlerRegistry.Entry?, _ task: TaskRecord, context: TaskContext, timeout: Duration?) async -> HandlerResult {
        guard let entry else {
            return .failure(TerminalTaskError("no handler registered for type \(task.type)"))
        }
        guard let timeout else {
            return await invoke(entry.handler, task, context: context)
        }
        return await withTaskGroup(of: HandlerResult?.self) { group in
            group.addTask { await self.invoke(entry.handler, task, context: context) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(TaskTimeoutError(timeout: timeout))
            }
            var result: HandlerResult?
            while let next = await group.next() {
                if let next, result == nil {
                    result = next
                    group.cancelAll()
                }
            }
            return result ?? .interrupted
        }
    }

    func invoke(_ handler: @escaping TaskHandlerRegistry.Handler, _ task: TaskRecord, context: TaskContext) async -> HandlerResult {
        do {
            if middleware.isEmpty {
                try await handler(task.payload, context)
            } else {
                try await middleware.run(task, context: context) { context in try await handler(task.payload, context) }
            }
            return .success
        } catch {
            // Cancelled: the worker stopped past its shutdown timeout (or a timeout won the race,
            // and this result is ignored). Whatever the handler threw then, the work did not fail.
            // A CancellationError thrown while nobody cancelled the attempt is an ordinary failure:
            // taken as an interruption it would run again at once, without end.
            if Task.isCancelled { return .interrupted }
            return .failure(error)
        }
    }
}
