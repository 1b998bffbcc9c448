import Foundation

/// What the dashboard reads beyond tasks and counts: finishes over time, start latency, failure
/// groups and the size of a bulk action before it runs.
extension TaskQueue {
    /// Tasks completed and failed in each `step` of the last `window` (at most an hour), oldest
    /// first; the last step is the latest whole one (it ended at most one step ago). Reads at most
    /// one row per second and state of the window.
    public func finishedSeries(window: Duration = .seconds(900), step: Duration = .seconds(10)) async throws -> FinishedSeries {
        try await store.finishedSeries(window: window, step: step)
    }

    /// How long tasks waited from due to start over the last minute, summed over the workers
    /// online now (each reports its own minute with its heartbeat).
    public func startLatency() async throws -> StartLatency {
        startLatency(of: try await workers())
    }

    /// The start latency summed over the online workers among `workers`.
    public func startLatency(of workers: [WorkerPresence]) -> StartLatency {
        var total = StartLatency()
        for worker in workers where worker.isOnline { total.add(worker.startLatency) }
        return total
    }

    /// The newest `sample` failed tasks grouped by type and last error, the `limit` largest groups
    /// first; also how many failed tasks were sampled (fewer than `sample` means all of them).
    public func failureGroups(sample: Int = 10_000, limit: Int = 50) async throws -> (groups: [FailureGroup], sampled: Int) {
        try await store.failureGroups(sample: max(1, sample), limit: max(1, limit))
    }

    /// How many tasks a bulk action over `selection` would touch: those in `states` (the
    /// selection's own state when it names one) that match it, counted up to `cap`.
    public func count(matching selection: TaskSelection, states: [TaskStatus], cap: Int = 100_000) async throws -> Int {
        let counted = selection.status.map { [$0] } ?? states
        return try await store.count(matching: selection, states: counted, cap: max(1, cap))
    }
}
