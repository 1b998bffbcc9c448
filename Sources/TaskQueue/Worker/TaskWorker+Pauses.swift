import Logging

/// Following what is paused across the fleet (``TaskQueue/TaskQueue/pause(_:)``).
extension TaskWorker {
    /// How often a worker reads the pauses: how long a pause or resume takes to reach it.
    static let pauseRefreshInterval: Duration = .seconds(1)

    func pauseLoop() async {
        while !(await sleep(for: Self.pauseRefreshInterval, unless: finished)) {
            await refreshPauses()
        }
    }

    /// Reads the pauses; on a database error keeps the last ones read.
    func refreshPauses() async {
        do {
            let current = try await store.pauses()
            let previous = pauses.withLock { state in
                defer { state = current }
                return state
            }
            if previous != current {
                logger.info(
                    "pauses changed",
                    metadata: [
                        "priorities": "\(current.priorities.map(\.rawValue).sorted())", "types": "\(current.types.sorted())",
                    ])
            }
        } catch {
            logger.warning("cannot read pauses; keeping the last ones", metadata: [LogKey.error: "\(error)"])
        }
    }
}
