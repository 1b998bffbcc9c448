import Foundation

/// How a worker runs; defaults follow the `worker` executable's documented environment.
public struct WorkerConfiguration: Sendable {
    /// Names this worker in leases and execution rows (default host:pid).
    public var workerID: String
    /// Handlers running at once (default 10).
    public var concurrency: Int
    /// How long one pull request waits for a message (default 2 s).
    public var pollTimeout: Duration
    /// Retry strategy for task types that do not bring their own (default exponential with jitter, 500 ms to 10 s).
    public var retry: RetryStrategy
    /// Longest one attempt may run before it fails as a retryable timeout, for task types that do
    /// not bring their own (nil = no limit).
    public var taskTimeout: Duration?
    /// On shutdown: how long running handlers may take to finish before they are interrupted.
    public var shutdownTimeout: Duration
    /// How often leases are renewed and in-progress signals sent (default lease / 3).
    public var heartbeatInterval: Duration?
    /// Messages fetched ahead per priority (default = concurrency).
    public var prefetchPerPriority: Int?
    /// A lower priority passed over this many times in a row is served next (default 16).
    public var starvationLimit: Int
    /// Run the reconciler in this worker (default true; it is safe in every worker at once).
    public var reconcilerEnabled: Bool
    /// Reconciler pass interval (default 1 s; also the precision of scheduled tasks).
    public var reconcileInterval: Duration
    /// A queued task whose publish failed (NATS down) is published by the reconciler once it is
    /// this old (default 5 s).
    public var publishGrace: Duration
    /// A queued task that no claim or reconciler pass has yet seen in the stream (a backlog not yet
    /// claimed, or an enqueuer killed between INSERT and publish) is published again once it is
    /// this old, under the same Nats-Msg-Id, so a message the stream holds is not copied (default
    /// 60 s; keep it inside the stream's duplicate window, 2 min by default).
    public var confirmAfter: Duration
    /// A published task with no progress for this long has its message checked (default 2 min).
    public var lostAfter: Duration
    /// How long finished tasks are kept before this worker's pruner deletes them (default 7 days
    /// completed and cancelled, 30 days failed; ``RetentionPolicy/keepForever`` turns pruning off).
    public var retention: RetentionPolicy
    /// How often the pruner looks for finished tasks past their period (default 1 min).
    public var pruneInterval: Duration
    /// Tasks one pruning transaction deletes at most (default 1,000).
    public var pruneBatchSize: Int
    /// Batches per state in one pass (default 100), so one pass stays bounded.
    public var pruneMaxBatches: Int
    /// Schedules declared in code, saved when the worker starts (see ``Schedule``).
    public var schedules: [Schedule]
    /// Whether this worker fires due schedules (default true; one firing worker is enough).
    public var schedulerEnabled: Bool
    /// How often the worker looks for due schedules (default 0.5 s): how late a fire may be.
    public var scheduleInterval: Duration

    /// A configuration; every argument has the default the `worker` executable uses (a
    /// concurrency below 1 counts as 1).
    public init(
        workerID: String = WorkerConfiguration.defaultWorkerID(),
        concurrency: Int = 10,
        pollTimeout: Duration = .seconds(2),
        retry: RetryStrategy = .exponentialJitter(base: .milliseconds(500), cap: .seconds(10)),
        taskTimeout: Duration? = nil,
        shutdownTimeout: Duration = .seconds(30),
        heartbeatInterval: Duration? = nil,
        prefetchPerPriority: Int? = nil,
        starvationLimit: Int = 16,
        reconcilerEnabled: Bool = true,
        reconcileInterval: Duration = .seconds(1),
        publishGrace: Duration = .seconds(5),
        confirmAfter: Duration = .seconds(60),
        lostAfter: Duration = .seconds(120),
        retention: RetentionPolicy = RetentionPolicy(),
        pruneInterval: Duration = .seconds(60),
        pruneBatchSize: Int = 1000,
        pruneMaxBatches: Int = 100,
        schedules: [Schedule] = [],
        schedulerEnabled: Bool = true,
        scheduleInterval: Duration = .milliseconds(500)
    ) {
        self.workerID = workerID
        self.concurrency = max(1, concurrency)
        self.pollTimeout = pollTimeout
        self.retry = retry
        self.taskTimeout = taskTimeout
        self.shutdownTimeout = shutdownTimeout
        self.heartbeatInterval = heartbeatInterval
        self.prefetchPerPriority = prefetchPerPriority
        self.starvationLimit = starvationLimit
        self.reconcilerEnabled = reconcilerEnabled
        self.reconcileInterval = reconcileInterval
        self.publishGrace = publishGrace
        self.confirmAfter = confirmAfter
        self.lostAfter = lostAfter
        self.retention = retention
        self.pruneInterval = pruneInterval
        self.pruneBatchSize = max(1, pruneBatchSize)
        self.pruneMaxBatches = max(1, pruneMaxBatches)
        self.schedules = schedules
        self.schedulerEnabled = schedulerEnabled
        self.scheduleInterval = scheduleInterval
    }

    /// `hostname:pid`.
    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}
