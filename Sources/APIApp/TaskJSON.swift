import Foundation
import TaskQueue

/// How tasks and executions look on the wire.
enum TaskJSON {
    static func task(_ task: TaskRecord) -> JSONValue {
        .object([
            "id": .string(task.id.lowercasedText),
            "type": .string(task.type),
            // PostgreSQL's jsonb text, valid JSON as stored.
            "payload": task.payload.isEmpty ? .null : .raw(task.payload),
            "priority": .string(task.priority.rawValue),
            "status": .string(task.status.rawValue),
            "attempts": .int(task.attempts),
            "max_attempts": .int(task.maxAttempts),
            "run_at": .timestamp(task.runAt),
            "idempotency_key": .nullable(task.idempotencyKey),
            "last_error": .nullable(task.lastError),
            "published": .bool(task.isPublished),
            "schedule": .nullable(task.schedule),
            "cancel_requested_at": .timestamp(task.cancelRequestedAt),
            "created_at": .timestamp(task.createdAt),
            "updated_at": .timestamp(task.updatedAt),
            "started_at": .timestamp(task.startedAt),
            "finished_at": .timestamp(task.finishedAt),
        ])
    }

    static func execution(_ execution: TaskExecution) -> JSONValue {
        .object([
            "task_id": .string(execution.taskID.lowercasedText),
            "attempt": .int(execution.attempt),
            "status": .string(execution.status.rawValue),
            "error": .nullable(execution.error),
            "worker_id": .string(execution.workerID),
            "started_at": .timestamp(execution.startedAt),
            "finished_at": .timestamp(execution.finishedAt),
            "duration_ms": execution.durationMilliseconds.map(JSONValue.double) ?? .null,
        ])
    }
}
