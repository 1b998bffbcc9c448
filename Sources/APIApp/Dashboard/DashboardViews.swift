import Foundation
import TaskQueue

/// The templates' contexts: plain dictionaries of text, flags and lists, made from TaskFlow's
/// records (the templates escape every value they print, except the pieces rendered here).
enum DashboardViews {
    static func workers(_ workers: [WorkerPresence], now: Date = Date()) -> [String: Any] {
        let online = workers.filter(\.isOnline)
        let recent = workers.filter { !$0.isOnline }.prefix(10)
        func row(_ worker: WorkerPresence) -> [String: Any] {
            [
                "id": worker.id, "host": worker.host, "pid": worker.pid, "version": worker.version,
                "concurrency": worker.concurrency, "running": worker.running, "online": worker.isOnline,
                "state": worker.isOnline ? "online" : worker.stoppedAt == nil ? "gone" : "stopped",
                "heartbeat": DashboardFormat.ago(worker.heartbeatAt, now: now), "heartbeat_at": DashboardFormat.time(worker.heartbeatAt),
                "types": worker.types.joined(separator: ", "),
            ]
        }
        return ["workers": (online + recent).map(row), "none_online": online.isEmpty, "any": !workers.isEmpty]
    }

    static func task(_ task: TaskRecord) -> [String: Any] {
        var row: [String: Any] = [
            "id": task.id.lowercasedText, "type": task.type, "status": task.status.rawValue, "priority": task.priority.rawValue,
            "attempts": task.attempts - task.attemptBase, "max_attempts": task.maxAttempts, "attempts_total": task.attempts,
            "retried": task.attemptBase > 0, "created": DashboardFormat.time(task.createdAt),
            "run_at": DashboardFormat.time(task.runAt), "started": DashboardFormat.time(task.startedAt),
            "finished": DashboardFormat.time(task.finishedAt), "cancel_requested": task.cancelRequestedAt != nil,
        ]
        if let error = task.lastError { row["last_error"] = error }
        if let schedule = task.schedule { row["schedule"] = schedule }
        if let owner = task.leaseOwner, task.status == .running { row["worker"] = owner }
        return row
    }

    /// Attempts oldest first, each with a bar as wide as its share of the longest one.
    static func timeline(_ executions: [TaskExecution]) -> [[String: Any]] {
        let longest = executions.compactMap(\.durationMilliseconds).max() ?? 0
        return executions.map { execution in
            let share = longest > 0 ? (execution.durationMilliseconds ?? 0) / longest : 0
            var row: [String: Any] = [
                "attempt": execution.attempt, "status": execution.status.rawValue, "worker": execution.workerID,
                "started": DashboardFormat.time(execution.startedAt), "finished": DashboardFormat.time(execution.finishedAt),
                "duration": DashboardFormat.milliseconds(execution.durationMilliseconds),
                // Tenths, as a class name (the page's style sheet allows no inline styles).
                "bar": "w\(max(1, Int((share * 10).rounded(.up))))",
            ]
            if let error = execution.error { row["error"] = error }
            return row
        }
    }

    static func limits(_ state: TaskTypeLimitState?) -> [String: Any] {
        guard let state else { return ["has_limits": false] }
        var row: [String: Any] = ["has_limits": true, "running": state.running, "held": state.held]
        if let concurrency = state.limits.concurrency { row["concurrency"] = concurrency }
        if let rate = state.limits.rate {
            row["rate_count"] = rate.count
            row["rate_seconds"] = rate.seconds
        }
        return row
    }

    static func schedule(_ record: ScheduleRecord) -> [String: Any] {
        let schedule = record.schedule
        return [
            "name": schedule.name, "cron": schedule.cron.description, "type": schedule.type, "timezone": schedule.timeZone.identifier,
            "priority": schedule.priority.rawValue, "paused": record.paused, "missed": schedule.missed.rawValue,
            "next": record.nextFires.prefix(3).map { ["at": DashboardFormat.time($0)] },
            "last": record.lastFires.prefix(5).map {
                ["at": DashboardFormat.time($0.fireAt), "task": $0.taskID.lowercasedText, "manual": $0.manual] as [String: Any]
            },
        ]
    }
}
