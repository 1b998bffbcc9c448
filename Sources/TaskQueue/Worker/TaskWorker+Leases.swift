import Foundation
import Logging

/// Keeping running tasks' leases alive, and the graceful drain.
extension TaskWorker {
    // MARK: Leases

    /// Renews the leases of running tasks (one statement) and tells JetStream they are in progress,
    /// along with messages still waiting for a slot.
    func heartbeatLoop() async {
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

    func drainWatcher(_ subscriptions: [PullSubscription]) async {
        await firstOf(drainRequested, finished)
        if finished.isFired { return }
        logger.info(
            "draining: fetching stopped, unstarted messages returned",
            metadata: [
                "shutdown_timeout": "\(configuration.shutdownTimeout)"
            ])
        for subscription in subscriptions { subscription.close() }
        let unstarted = await buffer.close()
        for message in unstarted { try? message.nak() }
        if await sleep(for: configuration.shutdownTimeout, unless: finished) { return }
        logger.warning(
            "shutdown timeout passed; interrupting running handlers",
            metadata: [
                LogKey.count: "\(running.withLock { $0.count })"
            ])
        forceStop.fire()
    }
}
