import Foundation
import TaskQueue

/// How tasks, executions and stats look on the wire.
enum TaskJSON {
    static func timestamp(_ date: Date?) -> Any {
        guard let date else { return NSNull() }
        return Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    static func task(_ task: TaskRecord) -> [String: Any] {
        let payload = (try? JSONSerialization.jsonObject(with: Data(task.payload.utf8), options: [.fragmentsAllowed])) ?? NSNull()
        return [
            "id": task.id.uuidString.lowercased(),
            "type": task.type,
            "payload": payload,
            "priority": task.priority.rawValue,
            "status": task.status.rawValue,
            "attempts": task.attempts,
            "max_attempts": task.maxAttempts,
            "run_at": timestamp(task.runAt),
            "idempotency_key": task.idempotencyKey ?? NSNull(),
            "last_error": task.lastError ?? NSNull(),
            "published": task.publishedAt != nil,
            "created_at": timestamp(task.createdAt),
            "updated_at": timestamp(task.updatedAt),
            "started_at": timestamp(task.startedAt),
            "finished_at": timestamp(task.finishedAt),
        ]
    }

    static func execution(_ execution: TaskExecution) -> [String: Any] {
        [
            "task_id": execution.taskID.uuidString.lowercased(),
            "attempt": execution.attempt,
            "status": execution.status.rawValue,
            "error": execution.error ?? NSNull(),
            "worker_id": execution.workerID,
            "started_at": timestamp(execution.startedAt),
            "finished_at": timestamp(execution.finishedAt),
            "duration_ms": execution.durationMilliseconds ?? NSNull(),
        ]
    }
}
