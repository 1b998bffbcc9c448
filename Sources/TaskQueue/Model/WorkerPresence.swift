import Foundation

/// A worker process as it last recorded itself (``TaskQueue/TaskQueue/workers()``).
public struct WorkerPresence: Sendable, Equatable {
    /// The worker's id (``WorkerConfiguration/workerID``).
    public var id: String
    /// The host it runs on.
    public var host: String
    /// Its process id on that host.
    public var pid: Int
    /// The TaskFlow version it runs (``TaskQueue/TaskQueue/version``).
    public var version: String
    /// Handlers it runs at once, at most.
    public var concurrency: Int
    /// Tasks it ran at its last heartbeat.
    public var running: Int
    /// When it started.
    public var startedAt: Date
    /// Its last heartbeat.
    public var heartbeatAt: Date
    /// When it stopped, if it stopped cleanly.
    public var stoppedAt: Date?
    /// Running and heard from within three heartbeat intervals.
    public var isOnline: Bool
    /// The task types it handles.
    public var types: [String] = []
    /// How long its tasks waited from due to start in the minute before its last heartbeat.
    public var startLatency = StartLatency()
}
