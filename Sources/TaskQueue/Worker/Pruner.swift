import CoreMetrics
import Logging

/// Deletes finished tasks past their retention period (``RetentionPolicy``), one pass per
/// `pruneInterval`. Runs in every worker; an advisory lock lets one process prune at a time, and
/// the others skip their pass.
final class Pruner: Sendable {
    let store: TaskStore
    let configuration: WorkerConfiguration
    let logger: Logger
    private static let counters = TaskStatus.allCases.map { Counter(label: "taskflow_tasks_pruned_total", dimensions: [("status", $0.rawValue)]) }

    init(store: TaskStore, configuration: WorkerConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    func run(until stop: Signal) async {
        while !(await sleep(for: configuration.pruneInterval, unless: stop)) {
            do {
                try await pass()
            } catch {
                logger.warning("pruning pass failed", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// One pass; nil when another process was pruning.
    @discardableResult
    func pass() async throws -> TaskStore.PruneCounts? {
        let counts = try await store.prune(
            configuration.retention.periods, batchSize: configuration.pruneBatchSize, maxBatches: configuration.pruneMaxBatches)
        guard let counts else { return nil }
        for (status, count) in counts where count > 0 {
            Self.counters[TaskStatus.allCases.firstIndex(of: status) ?? 0].increment(by: count)
        }
        let total = counts.values.reduce(0, +)
        if total > 0 {
            logger.info(
                "pruned finished tasks past their retention",
                metadata: [
                    LogKey.count: "\(total)",
                    "pruned": "\(counts.filter { $0.value > 0 }.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: ","))",
                ])
        }
        return counts
    }
}
