import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Pulls task ids from the three priority consumers, claims the tasks in PostgreSQL, runs their
/// handlers with bounded concurrency, records every attempt and acknowledges the messages.
///
/// A swift-service-lifecycle `Service`: on graceful shutdown it stops fetching, NAKs what was
/// fetched but not started, lets running handlers finish within `shutdownTimeout` (then interrupts
/// them), records their outcomes and returns.
public final class TaskWorker: Service, Sendable {
    let store: TaskStore
    let publisher: TaskPublisher
    let nats: NATSClient
    let queueConfiguration: TaskQueueConfiguration
    let middleware: MiddlewareChain
    let registry: TaskHandlerRegistry
    /// How this worker runs.
    public let configuration: WorkerConfiguration
    let logger: Logger

    private let buffer: DeliveryBuffer<JetStreamMessage>
    private let batcher: FinishBatcher
    private let running = Mutex<[UUID: RunningAttempt]>([:])
    /// Graceful shutdown was asked for.
    private let drainRequested = Signal()
    /// Running handlers must stop now (the shutdown timeout passed).
    private let forceStop = Signal()
    /// Every handler has finished and its outcome is recorded.
    private let finished = Signal()

    struct RunningAttempt: Sendable {
        let message: JetStreamMessage
        let attempt: Int
    }

    /// A worker for `queue`'s tasks, running the handlers in `registry` and the queue's middleware.
    public convenience init(queue: TaskQueue, registry: TaskHandlerRegistry, configuration: WorkerConfiguration = WorkerConfiguration(),
                            logger: Logger = Logger(label: "taskflow.worker")) {
        self.init(store: queue.store, publisher: queue.publisher, nats: queue.nats, queueConfiguration: queue.configuration,
                  middleware: queue.middleware, registry: registry, configuration: configuration, logger: logger)
    }

    init(store: TaskStore, publisher: TaskPublisher, nats: NATSClient, queueConfiguration: TaskQueueConfiguration,
         middleware: MiddlewareChain, registry: TaskHandlerRegistry, configuration: WorkerConfiguration, logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.nats = nats
        self.queueConfiguration = queueConfiguration
        self.middleware = middleware
        self.registry = registry
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKey.workerID] = .string(configuration.workerID)
        self.logger = logger
        self.buffer = DeliveryBuffer(
            slots: configuration.concurrency,
            prefetchPerPriority: configuration.prefetchPerPriority ?? configuration.concurrency,
            starvationLimit: configuration.starvationLimit
        )
        self.batcher = FinishBatcher(write: { try await store.finish($0) }, logger: logger, giveUp: forceStop)
    }

    /// Runs until graceful shutdown (or `stop()`), then drains.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await runUntilDrained()
        } onGracefulShutdown: {
            self.drainRequested.fire()
        }
    }

    /// Starts the graceful drain, as SIGTERM does through a ServiceGroup.
    public func stop() {
        drainRequested.fire()
    }

    private var lease: Duration { queueConfiguration.lease }

    private func runUntilDrained() async throws {
        guard let subscriptions = await subscribeAll() else {
            // Asked to stop before NATS was ever reachable: nothing was fetched, nothing to drain.
            finished.fire()
            return
        }
        logger.info("worker started", metadata: [
            "concurrency": "\(configuration.concurrency)", "stream": "\(queueConfiguration.streamName)",
        ])
        await withTaskGroup(of: Void.self) { group in
            for (priority, subscription) in subscriptions {
                group.addTask { await self.fetchLoop(priority, subscription) }
            }
            group.addTask { await self.batcher.run() }
            group.addTask { await self.heartbeatLoop() }
            if configuration.reconcilerEnabled {
                let reconciler = Reconciler(store: store, publisher: publisher, nats: nats, streamName: queueConfiguration.streamName,
                                            configuration: configuration, logger: logger)
                group.addTask { await reconciler.run(until: self.finished) }
            }
            group.addTask { await self.drainWatcher(subscriptions.map(\.1)) }

            // Unstructured so that a forced stop can cancel every running handler at once (one
            // task to cancel rather than a stop watcher beside each attempt); awaited right here.
            let dispatcher = Task { await self.dispatchLoop() }
            group.addTask {
                await firstOf(self.forceStop, self.finished)
                dispatcher.cancel()
            }
            await withTaskCancellationHandler {
                await dispatcher.value
            } onCancel: {
                dispatcher.cancel()
            }
            await batcher.close()
            finished.fire()
            for message in await buffer.close() { try? message.nak() }
        }
        logger.info("worker stopped")
    }

    // MARK: Subscribing

    private func subscribeAll() async -> [(TaskPriority, PullSubscription)]? {
        var delay = Duration.milliseconds(200)
        while !drainRequested.isFired {
            do {
                if !publisher.isProvisioned { try await publisher.provision() }
                var subscriptions: [(TaskPriority, PullSubscription)] = []
                for priority in TaskPriority.allCases {
                    subscriptions.append((priority, try await nats.pullSubscribe(
                        stream: queueConfiguration.streamName,
                        consumer: queueConfiguration.consumer(for: priority),
                        subject: queueConfiguration.subject(for: priority)
                    )))
                }
                return subscriptions
            } catch {
                logger.warning("cannot subscribe yet; retrying", metadata: [LogKey.error: "\(error)"])
                if await sleep(for: delay, unless: drainRequested) { break }
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }

    // MARK: Fetching

    private func fetchLoop(_ priority: TaskPriority, _ subscription: PullSubscription) async {
        var failures = 0
        let clock = ContinuousClock()
        while !drainRequested.isFired {
            let room = await buffer.waitForRoom(priority)
            if room == 0 { break }
            do {
                var messages = try await subscription.fetch(batch: min(room, 256), noWait: true, timeout: queueConfiguration.nats.requestTimeout)
                if messages.isEmpty {
                    let started = clock.now
                    messages = try await subscription.fetch(batch: 1, noWait: false, timeout: configuration.pollTimeout)
                    // nats.c 3.4.1 can report a timeout at once; do not spin when it does.
                    if messages.isEmpty, clock.now - started < .milliseconds(5) {
                        if await sleep(for: .milliseconds(50), unless: drainRequested) { break }
                    }
                }
                failures = 0
                for message in await buffer.push(messages, priority: priority) { try? message.nak() }
            } catch {
                failures += 1
                logger.warning("fetch failed", metadata: [LogKey.error: "\(error)", LogKey.subject: "\(queueConfiguration.subject(for: priority))"])
                if failures % 5 == 0 {
                    // The stream or consumer may have been lost with the server's data; recreate them.
                    try? await publisher.provision()
                }
                if await sleep(for: .milliseconds(min(200 * failures, 2000)), unless: drainRequested) { break }
            }
        }
    }

    // MARK: Dispatching

    private func dispatchLoop() async {
        await withDiscardingTaskGroup { handlers in
            while true {
                let batch = await buffer.take()
                if batch.isEmpty { break }
                for (delivery, task) in await admit(batch) {
                    handlers.addTask { await self.process(task, message: delivery.message) }
                }
            }
        }
    }

    /// Claims the tasks behind a batch of messages in one statement and settles every message that
    /// needs no handler; returns the claimed ones to run.
    private func admit(_ batch: [DeliveryBuffer<JetStreamMessage>.Delivery]) async -> [(DeliveryBuffer<JetStreamMessage>.Delivery, TaskRecord)] {
        var byID: [UUID: [DeliveryBuffer<JetStreamMessage>.Delivery]] = [:]
        var settled = 0
        for delivery in batch {
            // The id as published parses directly; Foundation's trimming (a twentieth of the
            // worker's CPU when every message went through it) only for a message that needs it.
            guard let text = delivery.message.text,
                  let id = UUID(canonicalText: text) ?? UUID(canonicalText: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                // Not a task id: it can never become one, so it must not come back.
                logger.warning("terminating a message that is not a task id", metadata: [
                    LogKey.subject: "\(delivery.message.subject)", LogKey.streamSequence: "\(delivery.message.streamSequence)",
                    "bytes": "\(delivery.message.data.count)",
                ])
                try? delivery.message.term()
                WorkerMetrics.poisonMessages.increment()
                settled += 1
                continue
            }
            byID[id, default: []].append(delivery)
        }
        var claimed: [(DeliveryBuffer<JetStreamMessage>.Delivery, TaskRecord)] = []
        if !byID.isEmpty {
            do {
                let ids = Array(byID.keys)
                let outcomes = try await store.claim(
                    ids, sequences: ids.map { byID[$0]?.first?.message.streamSequence ?? 0 },
                    workerID: configuration.workerID, lease: lease)
                for (id, deliveries) in byID {
                    for (index, delivery) in deliveries.enumerated() {
                        // Copies of one id in one batch: the first runs it, the rest are duplicates.
                        let outcome = index == 0 ? outcomes[id] ?? .unknown : .heldElsewhere
                        if case .claimed(let task) = outcome {
                            claimed.append((delivery, task))
                        } else {
                            settle(delivery.message, id: id, outcome: outcome)
                            settled += 1
                        }
                    }
                }
            } catch {
                logger.warning("claim failed; messages return later", metadata: [LogKey.error: "\(error)", LogKey.count: "\(byID.count)"])
                for delivery in byID.values.joined() { try? delivery.message.nak(delay: .seconds(1)) }
                settled += byID.values.reduce(0) { $0 + $1.count }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        if settled > 0 { await buffer.release(settled) }
        return claimed
    }

    private func settle(_ message: JetStreamMessage, id: UUID, outcome: ClaimOutcome) {
        var metadata: Logger.Metadata = [LogKey.taskID: .string(id.lowercasedText), LogKey.deliveries: "\(message.deliveryCount)"]
        switch outcome {
        case .notDue(let remaining):
            // An early copy (a duplicate, or a redelivery before the backoff ends) waits out the rest.
            try? message.nak(delay: remaining + .milliseconds(5))
        case .leased(let remaining):
            // JetStream's AckWait runs from the fetch, the lease from the claim a moment later, so a
            // dead worker's message comes back just before its lease ends: look again after the
            // lease, or sooner, so a duplicate of a task that finishes meanwhile is acked promptly.
            logger.debug("message for a leased task comes back later", metadata: metadata)
            try? message.nak(delay: min(remaining + .milliseconds(250), .seconds(2)))
        case .finished(let status):
            metadata["task.status"] = "\(status.rawValue)"
            logger.debug("message for a finished task acknowledged", metadata: metadata)
            try? message.ack()
        case .heldElsewhere:
            logger.debug("duplicate message for a running task acknowledged", metadata: metadata)
            try? message.ack()
        case .unknown:
            logger.warning("terminating a message for an unknown task id", metadata: metadata)
            try? message.term()
            WorkerMetrics.poisonMessages.increment()
        case .claimed:
            break
        }
    }

    // MARK: Running one attempt

    private func process(_ task: TaskRecord, message: JetStreamMessage) async {
        let entry = registry.entry(for: task.type)
        let typeLabel = entry == nil ? WorkerMetrics.unregisteredType : task.type
        let timeout = entry?.timeout ?? configuration.taskTimeout
        let context = TaskContext(task: task, deadline: timeout.map { ContinuousClock.now + $0 },
                                  workerID: configuration.workerID, logger: logger)
        // The task's logger is made only for a line that will be written: adding its metadata
        // for every task cost a few percent of the worker's CPU.
        let debugging = logger.logLevel <= .debug
        if debugging { context.logger.debug("task started") }
        WorkerMetrics.queueWait(task.priority).recordInterval(since: task.createdAt)
        running.withLock { $0[task.id] = RunningAttempt(message: message, attempt: task.attempts) }
        let started = ContinuousClock.now
        let result = await runHandler(entry, task, context: context, timeout: timeout)
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
            maxAttempts: task.maxAttempts, type: task.type, interruptedBy: configuration.workerID)
        var outcome = AttemptOutcome(taskID: task.id, attempt: task.attempts, status: decision.status)
        outcome.error = decision.error
        if decision.status == .retrying { outcome.retryDelay = decision.retryDelay }

        switch await batcher.submit(outcome) {
        case .success(true):
            WorkerMetrics.finished(type: typeLabel, status: outcome.status.rawValue, priority: task.priority).increment()
            switch outcome.status {
            case .completed:
                if debugging { context.logger.debug("task completed") }
                try? message.ack()
            case .retrying:
                if debugging { context.logger.debug("task will retry", metadata: [LogKey.error: "\(outcome.error ?? "")", "retry.delay": "\(decision.retryDelay)"]) }
                try? message.nak(delay: max(decision.retryDelay, .milliseconds(1)))
            default:
                context.logger.info("task failed", metadata: [LogKey.error: "\(outcome.error ?? "")"])
                do {
                    // The failed row as recorded (its final error and attempt count) is the letter.
                    guard let failed = try await store.task(task.id) else {
                        throw TaskQueueError(.taskNotFound, "task \(task.id) is gone", taskID: task.id)
                    }
                    try await publisher.publishDeadLetter(failed)
                } catch {
                    context.logger.warning("dead letter not published; the reconciler will", metadata: [LogKey.error: "\(error)"])
                }
                try? message.ack()
            }
        case .success(false):
            // Our lease had expired and another worker took the task over; its result stands.
            context.logger.warning("attempt outcome discarded: the task moved on without this worker")
            try? message.ack()
        case .failure(let error):
            // Leave the message unacknowledged: JetStream redelivers it after AckWait, the lease
            // will have expired, and the next claim closes this attempt and runs the task again.
            context.logger.error("attempt outcome not recorded; the task will run again", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Runs the handler in the attempt's own task. A forced stop cancels that task (see
    /// `runUntilDrained`); a timeout races the handler against a sleep and cancels the loser.
    private func runHandler(_ entry: TaskHandlerRegistry.Entry?, _ task: TaskRecord, context: TaskContext, timeout: Duration?) async -> HandlerResult {
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

    private func invoke(_ handler: @escaping TaskHandlerRegistry.Handler, _ task: TaskRecord, context: TaskContext) async -> HandlerResult {
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
            if error is CancellationError || Task.isCancelled { return .interrupted }
            return .failure(error)
        }
    }

    // MARK: Leases

    /// Renews the leases of running tasks (one statement) and tells JetStream they are in progress,
    /// along with messages still waiting for a slot.
    private func heartbeatLoop() async {
        let interval = configuration.heartbeatInterval ?? max(lease / 3, .milliseconds(100))
        while !(await sleep(for: interval, unless: finished)) {
            let attempts = running.withLock { $0 }
            if !attempts.isEmpty {
                do {
                    let held = try await store.renewLeases(Array(attempts.keys), workerID: configuration.workerID, lease: lease)
                    for (id, attempt) in attempts where held.contains(id) { try? attempt.message.inProgress() }
                    if held.count < attempts.count {
                        logger.warning("leases lost for running tasks", metadata: [LogKey.count: "\(attempts.count - held.count)"])
                    }
                } catch {
                    // PostgreSQL is unreachable: this worker still holds the work, so keep the
                    // messages from being redelivered while the database comes back.
                    logger.warning("lease renewal failed", metadata: [LogKey.error: "\(error)"])
                    for attempt in attempts.values { try? attempt.message.inProgress() }
                }
            }
            for message in await buffer.waiting() { try? message.inProgress() }
        }
    }

    // MARK: Drain

    private func drainWatcher(_ subscriptions: [PullSubscription]) async {
        await firstOf(drainRequested, finished)
        if finished.isFired { return }
        logger.info("draining: fetching stopped, unstarted messages returned", metadata: [
            "shutdown_timeout": "\(configuration.shutdownTimeout)",
        ])
        for subscription in subscriptions { subscription.close() }
        let unstarted = await buffer.close()
        for message in unstarted { try? message.nak() }
        if await sleep(for: configuration.shutdownTimeout, unless: finished) { return }
        logger.warning("shutdown timeout passed; interrupting running handlers", metadata: [
            LogKey.count: "\(running.withLock { $0.count })",
        ])
        forceStop.fire()
    }
}
