import CoreMetrics

/// The worker's metrics, through swift-metrics (named so as not to shadow its `Metrics` module).
/// Handles are made once per label set: the type label only takes registered type names
/// (anything else counts as `unregisteredType`), so the worker's metric set stays as small as
/// its registry.
enum WorkerMetrics {
    static let poisonMessages = Counter(label: "taskflow_poison_messages_total")
    /// Running tasks ended by a cancel request (by their worker, or by a claim after it died).
    static let cancelledRunning = Counter(label: "taskflow_running_cancelled_total")

    /// The type label of a task whose type has no handler here.
    static let unregisteredType = "_unregistered"

    struct FinishedKey: Hashable, Sendable {
        var type: String
        var status: String
        var priority: TaskPriority
    }

    private static let finishedCounters = MetricHandleCache<FinishedKey, Counter>(
        overflow: { FinishedKey(type: MetricHandleCache<FinishedKey, Counter>.overflowLabel, status: $0.status, priority: $0.priority) },
        make: { Counter(label: "taskflow_tasks_finished_total", dimensions: [("type", $0.type), ("status", $0.status), ("priority", $0.priority.rawValue)]) }
    )
    private static let runTimers = MetricHandleCache<String, Timer>(
        overflow: { _ in MetricHandleCache<String, Timer>.overflowLabel },
        make: { Timer(label: "taskflow_task_run_seconds", dimensions: [("type", $0)], preferredDisplayUnit: .seconds) }
    )
    private static let queueWaitTimers: [Timer] = TaskPriority.allCases.map {
        Timer(label: "taskflow_task_queue_wait_seconds", dimensions: [("priority", $0.rawValue)], preferredDisplayUnit: .seconds)
    }

    /// `type` is the label value: a registered type name or `unregisteredType`.
    static func finished(type: String, status: String, priority: TaskPriority) -> Counter {
        finishedCounters[FinishedKey(type: type, status: status, priority: priority)]
    }

    static func runTime(_ type: String) -> Timer { runTimers[type] }

    static func queueWait(_ priority: TaskPriority) -> Timer { queueWaitTimers[priority.rank] }
}
