import Foundation

/// The fleet: the worker processes and what they run, as each records it.
extension TaskQueue {
    /// TaskFlow's version, as workers record it.
    public static let version = "0.1.0-dev"

    /// How often a worker records its heartbeat row; one three intervals old counts as gone.
    public static let workerHeartbeatInterval: Duration = .seconds(5)

    /// Every worker process recorded in the last day, online ones first: id, host, version,
    /// concurrency, tasks running at its last heartbeat, and whether it is online (running and
    /// heard from within three heartbeat intervals).
    public func workers() async throws -> [WorkerPresence] {
        try await store.workers(goneAfter: Self.workerHeartbeatInterval * 3)
    }
}
