import Foundation

/// Where the task columns are in one result. Looked up once per result: by name, every column of
/// every row hashed its name again (a tenth of a claim's time in the worker's profile).
struct TaskRecordColumns {
    let id, type, payload, priority, status, attempts, maxAttempts, attemptBase, runAt, idempotencyKey,
        lastError, leaseOwner, leaseExpiresAt, publishedAt, publishFailedAt, createdAt, updatedAt, startedAt, finishedAt, schedule, cancelRequestedAt: Int
    /// Only the claim returns `trace_context`.
    let traceContext: Int?

    init(_ row: PostgresRow) throws {
        id = try row.position("id")
        type = try row.position("type")
        payload = try row.position("payload")
        priority = try row.position("priority")
        status = try row.position("status")
        attempts = try row.position("attempts")
        maxAttempts = try row.position("max_attempts")
        attemptBase = try row.position("attempt_base")
        runAt = try row.position("run_at")
        idempotencyKey = try row.position("idempotency_key")
        lastError = try row.position("last_error")
        leaseOwner = try row.position("lease_owner")
        leaseExpiresAt = try row.position("lease_expires_at")
        publishedAt = try row.position("published_at")
        publishFailedAt = try row.position("publish_failed_at")
        createdAt = try row.position("created_at")
        updatedAt = try row.position("updated_at")
        startedAt = try row.position("started_at")
        finishedAt = try row.position("finished_at")
        schedule = try row.position("schedule")
        cancelRequestedAt = try row.position("cancel_requested_at")
        traceContext = row.index["trace_context"]
    }
}

extension TaskRecord {
    init(row: PostgresRow) throws {
        try self.init(row: row, columns: TaskRecordColumns(row))
    }

    init(row: PostgresRow, columns: TaskRecordColumns) throws {
        id = try row.uuid(at: columns.id)
        type = try row.string(at: columns.type)
        payload = try row.string(at: columns.payload)
        priority = TaskPriority(rawValue: try row.string(at: columns.priority)) ?? .normal
        guard let status = TaskStatus(rawValue: try row.string(at: columns.status)) else {
            throw TaskQueueError(.databaseError, "task \(id) has an unknown status")
        }
        self.status = status
        attempts = try row.int(at: columns.attempts)
        maxAttempts = try row.int(at: columns.maxAttempts)
        attemptBase = try row.int(at: columns.attemptBase)
        runAt = try row.date(at: columns.runAt)
        idempotencyKey = try row.optionalString(at: columns.idempotencyKey)
        lastError = try row.optionalString(at: columns.lastError)
        leaseOwner = try row.optionalString(at: columns.leaseOwner)
        leaseExpiresAt = try row.optionalDate(at: columns.leaseExpiresAt)
        publishedAt = try row.optionalDate(at: columns.publishedAt)
        publishFailedAt = try row.optionalDate(at: columns.publishFailedAt)
        createdAt = try row.date(at: columns.createdAt)
        updatedAt = try row.date(at: columns.updatedAt)
        startedAt = try row.optionalDate(at: columns.startedAt)
        finishedAt = try row.optionalDate(at: columns.finishedAt)
        schedule = try row.optionalString(at: columns.schedule)
        cancelRequestedAt = try row.optionalDate(at: columns.cancelRequestedAt)
        trace = try columns.traceContext.flatMap { try row.optionalString(at: $0) }.flatMap(TaskTrace.init(stored:))
    }

    /// Every row of a result as a task, the column positions looked up once.
    static func all(in rows: PostgresRows) throws -> [TaskRecord] {
        guard let first = rows.rows.first else { return [] }
        let columns = try TaskRecordColumns(first)
        return try rows.rows.map { try TaskRecord(row: $0, columns: columns) }
    }
}
