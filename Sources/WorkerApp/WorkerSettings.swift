import Foundation
import TaskQueue

/// The worker process's settings, read from the environment in this one place.
public struct WorkerSettings: Sendable {
    public var queue: TaskQueueConfiguration
    public var worker: WorkerConfiguration
    /// Port for `/metrics` and `/health` (nil = no HTTP listener).
    public var metricsPort: Int?
    public var metricsHost: String
    /// How long a `webhook` task's HTTP request may take.
    public var webhookTimeout: Duration
    /// File that records every successful built-in task run (`WORKER_SUCCESS_LOG`; for the failure suite).
    public var successLogPath: String?

    /// `DATABASE_URL`, `NATS_URL`, `NATS_STREAM_NAME` (TASKFLOW), `NATS_CONSUMER_NAME` (taskflow-worker),
    /// `WORKER_CONCURRENCY` (10), `WORKER_POLL_TIMEOUT` (2s), `WORKER_MAX_ATTEMPTS` (5),
    /// `WORKER_BACKOFF_BASE` (500ms), `WORKER_BACKOFF_MAX` (10s), `WORKER_SHUTDOWN_TIMEOUT` (30s),
    /// `WORKER_TASK_TIMEOUT` (none), `WORKER_ID` (host:pid), `WORKER_METRICS_PORT` (off),
    /// `WORKER_RECONCILE_INTERVAL` (1s), `WORKER_LOST_AFTER` (2m), `WEBHOOK_TIMEOUT` (10s),
    /// `TASK_RETENTION_COMPLETED` (7d), `TASK_RETENTION_FAILED` (30d), `TASK_RETENTION_CANCELLED` (7d;
    /// `0` keeps forever), `WORKER_PRUNE_INTERVAL` (1m),
    /// plus the queue settings `TaskQueueConfiguration.fromEnvironment` reads.
    public static func fromEnvironment(_ env: EnvironmentReader = EnvironmentReader()) throws -> WorkerSettings {
        let workerID = env.string("WORKER_ID", default: WorkerConfiguration.defaultWorkerID())
        let queue = try TaskQueueConfiguration.fromEnvironment(env, connectionName: "taskflow-worker \(workerID)")
        let base = try env.duration("WORKER_BACKOFF_BASE", default: .milliseconds(500), minimum: .milliseconds(1))
        let cap = try env.duration("WORKER_BACKOFF_MAX", default: .seconds(10))
        guard cap >= base else {
            throw EnvironmentReader.InvalidSetting(variable: "WORKER_BACKOFF_MAX", problem: "must not be shorter than WORKER_BACKOFF_BASE")
        }
        let worker = WorkerConfiguration(
            workerID: workerID,
            concurrency: try env.int("WORKER_CONCURRENCY", default: 10, range: 1...1024),
            pollTimeout: try env.duration("WORKER_POLL_TIMEOUT", default: .seconds(2), minimum: .milliseconds(10)),
            retry: .exponentialJitter(base: base, cap: cap),
            taskTimeout: try env.optionalDuration("WORKER_TASK_TIMEOUT", minimum: .milliseconds(1)),
            shutdownTimeout: try env.duration("WORKER_SHUTDOWN_TIMEOUT", default: .seconds(30)),
            reconcileInterval: try env.duration("WORKER_RECONCILE_INTERVAL", default: .seconds(1), minimum: .milliseconds(10)),
            lostAfter: try env.duration("WORKER_LOST_AFTER", default: .seconds(120), minimum: .seconds(1)),
            retention: RetentionPolicy(
                completed: try Self.retention(env, "TASK_RETENTION_COMPLETED", default: RetentionPolicy().completed),
                failed: try Self.retention(env, "TASK_RETENTION_FAILED", default: RetentionPolicy().failed),
                cancelled: try Self.retention(env, "TASK_RETENTION_CANCELLED", default: RetentionPolicy().cancelled)
            ),
            pruneInterval: try env.duration("WORKER_PRUNE_INTERVAL", default: .seconds(60), minimum: .milliseconds(100))
        )
        let port = try env.string("WORKER_METRICS_PORT").map { _ in try env.int("WORKER_METRICS_PORT", default: 0, range: 1...65535) }
        return WorkerSettings(
            queue: queue,
            worker: worker,
            metricsPort: port,
            metricsHost: env.string("WORKER_METRICS_HOST", default: "127.0.0.1"),
            webhookTimeout: try env.duration("WEBHOOK_TIMEOUT", default: .seconds(10), minimum: .milliseconds(1)),
            successLogPath: env.string("WORKER_SUCCESS_LOG")
        )
    }

    /// A retention period: a duration such as `7d` or `12h`; `0` keeps that state's tasks forever.
    static func retention(_ env: EnvironmentReader, _ name: String, default fallback: Duration?) throws -> Duration? {
        guard env.string(name) != nil else { return fallback }
        let period = try env.duration(name, default: .zero)
        return period == .zero ? nil : period
    }
}
