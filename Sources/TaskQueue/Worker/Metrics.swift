import CoreMetrics

/// The worker's metrics, through swift-metrics.
enum Metrics {
    static let poisonMessages = Counter(label: "taskflow_poison_messages_total")

    static func finished(type: String, status: String, priority: TaskPriority) -> Counter {
        Counter(label: "taskflow_tasks_finished_total", dimensions: [("type", type), ("status", status), ("priority", priority.rawValue)])
    }

    static func runTime(_ type: String) -> Timer {
        Timer(label: "taskflow_task_run_seconds", dimensions: [("type", type)], preferredDisplayUnit: .seconds)
    }

    static func queueWait(_ priority: TaskPriority) -> Timer {
        Timer(label: "taskflow_task_queue_wait_seconds", dimensions: [("priority", priority.rawValue)], preferredDisplayUnit: .seconds)
    }
}

import struct Foundation.Date

extension Timer {
    func recordInterval(since date: Date) {
        recordNanoseconds(Int64(max(0, Date().timeIntervalSince(date)) * 1e9))
    }
}
