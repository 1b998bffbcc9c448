import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Tracing

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
    /// Where attempts record spans; nil when tracing is off.
    let tracer: (any Tracer)?
    let registry: TaskHandlerRegistry
    /// How this worker runs.
    public let configuration: WorkerConfiguration
    let logger: Logger

    let buffer: DeliveryBuffer<JetStreamMessage>
    let batcher: FinishBatcher
    let running = Mutex<[UUID: RunningAttempt]>([:])
    /// Waits from due to start of the last minute, reported with the heartbeat.
    let startLatency = StartLatencyWindow()
    /// Graceful shutdown was asked for.
    let drainRequested = Signal()
    /// Running handlers must stop now (the shutdown timeout passed).
    let forceStop = Signal()
    /// Every handler has finished and its outcome is recorded.
    let finished = Signal()
    /// What is paused across the fleet, as last read (every second; see TaskWorker+Controls).
    let pauses = Mutex(TaskPauses())
    /// The task types with a fleet-wide limit, as last read with the pauses.
    let limitedTypes = Mutex<Set<String>>([])
    /// Wakes the release of tasks held over their type's limit (a task of a limited type finished).
    let releaseWake: AsyncStream<Void>.Continuation
    let releaseWakes: AsyncStream<Void>

    struct RunningAttempt: Sendable {
        let message: JetStreamMessage
        let attempt: Int
        /// The attempt's own task while its handler runs, for a cancel request to cancel.
        var handler: AttemptTask?
        /// A cancel request reached this worker: whatever the handler returns, the task ends cancelled.
        var cancelRequested = false
    }

    /// A worker for `queue`'s tasks, running the handlers in `registry` and the queue's middleware.
    public convenience init(
        queue: TaskQueue, registry: TaskHandlerRegistry, configuration: WorkerConfiguration = WorkerConfiguration(),
        logger: Logger = Logger(label: "taskflow.worker")
    ) {
        self.init(
            store: queue.store, publisher: queue.publisher, nats: queue.nats, queueConfiguration: queue.configuration,
            middleware: queue.middleware, registry: registry, configuration: configuration, tracer: queue.tracer, logger: logger)
    }

    init(
        store: TaskStore, publisher: TaskPublisher, nats: NATSClient, queueConfiguration: TaskQueueConfiguration,
        middleware: MiddlewareChain, registry: TaskHandlerRegistry, configuration: WorkerConfiguration, tracer: (any Tracer)? = nil,
        logger: Logger
    ) {
        self.tracer = tracer
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
        (releaseWakes, releaseWake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
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

    var lease: Duration { queueConfiguration.lease }

    private func runUntilDrained() async throws {
        guard let subscriptions = await subscribeAll() else {
            // Asked to stop before NATS was ever reachable: nothing was fetched, nothing to drain.
            finished.fire()
            return
        }
        await declareLimits()
        await refreshControls()
        logger.info(
            "worker started",
            metadata: [
                "concurrency": "\(configuration.concurrency)", "stream": "\(queueConfiguration.streamName)",
            ])
        await withTaskGroup(of: Void.self) { group in
            for (priority, subscription) in subscriptions {
                group.addTask { await self.fetchLoop(priority, subscription) }
            }
            group.addTask { await self.batcher.run() }
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.controlLoop() }
            group.addTask { await self.cancelRequestLoop() }
            group.addTask { await self.releaseLoop() }
            group.addTask { await self.presenceLoop() }
            if configuration.reconcilerEnabled {
                let reconciler = Reconciler(
                    store: store, publisher: publisher, nats: nats, streamName: queueConfiguration.streamName,
                    configuration: configuration, logger: logger)
                group.addTask { await reconciler.run(until: self.finished) }
            }
            // Runs even when every state is kept forever: it also trims the per-second finish counts.
            let pruner = Pruner(store: store, configuration: configuration, logger: logger)
            group.addTask { await pruner.run(until: self.finished) }
            if configuration.schedulerEnabled {
                let firer = ScheduleFirer(
                    store: store, publisher: publisher, configuration: configuration,
                    defaultMaxAttempts: queueConfiguration.defaultMaxAttempts, tracer: tracer, logger: logger)
                group.addTask { await firer.run(until: self.finished) }
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
            releaseWake.finish()
            for message in await buffer.close() { try? message.nak() }
        }
        logger.info("worker stopped")
    }
}
