import Foundation
import Logging

/// Following what operators steer across the fleet: pauses (``TaskQueue/TaskQueue/pause(_:)``),
/// fleet-wide limits (``TaskQueue/TaskQueue/setLimits(_:for:)``) and cancel requests for running
/// tasks (``TaskQueue/TaskQueue/cancel(_:)``).
extension TaskWorker {
    /// How often a worker reads the pauses and limited types: how long a pause, resume or new
    /// limit takes to reach it.
    static let pauseRefreshInterval: Duration = .seconds(1)
    /// How often a worker looks for cancel requests for the tasks it runs (when it runs any).
    static let cancelCheckInterval: Duration = .milliseconds(500)
    /// How often held tasks of limited types are released without a finish to prompt it (a rate's
    /// window moving on, a worker that died holding a slot).
    static let releaseInterval: Duration = .seconds(1)
    /// How often a worker adds running tasks of limited types that no limited claim counted.
    static let runningCountInterval: Duration = .seconds(5)

    // MARK: Pauses and limited types

    func controlLoop() async {
        while !(await sleep(for: Self.pauseRefreshInterval, unless: finished)) {
            await refreshControls()
        }
    }

    /// Reads the pauses and the limited types; on a database error keeps the last ones read.
    func refreshControls() async {
        do {
            let (current, limited) = try await store.controls()
            let previous = pauses.withLock { state in
                defer { state = current }
                return state
            }
            let previousLimited = limitedTypes.withLock { state in
                defer { state = limited }
                return state
            }
            if previous != current {
                logger.info(
                    "pauses changed",
                    metadata: [
                        "priorities": "\(current.priorities.map(\.rawValue).sorted())", "types": "\(current.types.sorted())",
                    ])
            }
            if previousLimited != limited {
                logger.info("limited task types changed", metadata: ["types": "\(limited.sorted())"])
                if !limited.isEmpty { releaseWake.yield() }
            }
        } catch {
            logger.warning("cannot read pauses and limits; keeping the last ones", metadata: [LogKey.error: "\(error)"])
        }
    }

    // MARK: Limits

    /// Writes the limits the registry's definitions declare (see `TaskStore.declareLimits`).
    func declareLimits() async {
        let declared = registry.declaredLimits
        guard !declared.isEmpty else { return }
        do {
            let written = try await store.declareLimits(declared)
            if !written.isEmpty { logger.info("task type limits declared", metadata: ["types": "\(written)"]) }
        } catch {
            logger.warning("cannot declare task type limits", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Releases held tasks of limited types as they get room: woken when a task of a limited type
    /// finishes here, and every second besides. A release in one worker can find room another has
    /// just filled; the claim then holds the extra tasks again, so a limit is never exceeded.
    func releaseLoop() async {
        let ticker = Task {
            while !(await sleep(for: Self.releaseInterval, unless: finished)) { releaseWake.yield() }
        }
        defer { ticker.cancel() }
        var lastCount = ContinuousClock.now
        for await _ in releaseWakes {
            if finished.isFired { break }
            let types = limitedTypes.withLock { $0 }
            if !types.isEmpty, ContinuousClock.now - lastCount >= Self.runningCountInterval {
                // Running tasks of limited types that a claim without the limit started (see
                // `TaskStore.countRunning`).
                lastCount = ContinuousClock.now
                do { try await store.countRunning(of: types.sorted()) } catch {
                    logger.warning("cannot count running tasks of limited types", metadata: [LogKey.error: "\(error)"])
                }
            }
            for type in types.sorted() {
                do {
                    let released = try await store.releaseHeld(type: type, limit: 500)
                    if !released.isEmpty {
                        await publisher.publish(released)
                        logger.debug("released tasks held over their type's limit", metadata: [LogKey.taskType: "\(type)", LogKey.count: "\(released.count)"])
                    }
                } catch {
                    logger.warning("cannot release held tasks", metadata: [LogKey.taskType: "\(type)", LogKey.error: "\(error)"])
                }
            }
        }
    }

    // MARK: Cancel requests

    /// Looks for cancel requests for the tasks this worker runs and cancels their handlers.
    func cancelRequestLoop() async {
        while !(await sleep(for: Self.cancelCheckInterval, unless: finished)) {
            if running.withLock({ $0.isEmpty }) { continue }
            do {
                let requested = try await store.cancelRequests(workerID: configuration.workerID)
                if !requested.isEmpty { cancelRunning(requested) }
            } catch {
                logger.warning("cannot read cancel requests", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// Cancels the handlers of these running attempts (each once); the attempts then end cancelled.
    func cancelRunning(_ ids: [UUID]) {
        let cancelled = running.withLock { attempts -> [UUID] in
            var cancelled: [UUID] = []
            for id in ids {
                guard var attempt = attempts[id], !attempt.cancelRequested else { continue }
                attempt.cancelRequested = true
                // Under the lock that the attempt clears `handler` with: its task is still running.
                attempt.handler?.cancel()
                attempts[id] = attempt
                cancelled.append(id)
            }
            return cancelled
        }
        for id in cancelled {
            logger.info("cancelling a running task on request", metadata: [LogKey.taskID: .string(id.lowercasedText)])
        }
    }

    // MARK: Presence

    /// Records this worker's row when it starts, every heartbeat interval while it runs (with how
    /// many tasks it runs), and once more when it has stopped (``TaskQueue/TaskQueue/workers()``).
    func presenceLoop() async {
        await recordPresence(starting: true)
        while !(await sleep(for: TaskQueue.workerHeartbeatInterval, unless: finished)) {
            await recordPresence(starting: false)
        }
        do { try await store.recordStopped(workerID: configuration.workerID) } catch {
            logger.warning("cannot record that this worker stopped", metadata: [LogKey.error: "\(error)"])
        }
    }

    func recordPresence(starting: Bool) async {
        do {
            try await store.recordHeartbeat(
                workerID: configuration.workerID, host: ProcessInfo.processInfo.hostName,
                pid: Int(ProcessInfo.processInfo.processIdentifier), version: TaskQueue.version,
                concurrency: configuration.concurrency, running: running.withLock { $0.count }, starting: starting,
                types: registry.types, startLatency: startLatency.lastMinute())
        } catch {
            logger.warning("cannot record this worker's heartbeat", metadata: [LogKey.error: "\(error)"])
        }
    }
}
