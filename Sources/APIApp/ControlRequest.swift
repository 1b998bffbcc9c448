import Foundation
import TaskQueue

/// A validated `PUT /api/v1/types/{type}/limits` body:
/// `{"concurrency"?: N, "rate"?: {"count": M, "per_seconds": S}}`.
struct LimitsRequest {
    static let fields: Set<String> = ["concurrency", "rate"]
    static let rateFields: Set<String> = ["count", "per_seconds"]

    var limits: TaskTypeLimits

    init(body: [UInt8]) throws {
        let object = try CreateTaskRequest.object(body, fields: Self.fields)
        var limits = TaskTypeLimits()
        if let value = object["concurrency"] {
            limits.concurrency = try Self.whole(value, field: "concurrency", "concurrency must be a whole number from 1 to \(TaskTypeLimits.maximum)")
        }
        if let value = object["rate"] {
            guard let rate = value as? [String: Any] else {
                throw APIError.invalid("rate", "invalid_rate", "rate must be an object {\"count\": M, \"per_seconds\": S}")
            }
            if let unknown = rate.keys.sorted().first(where: { !Self.rateFields.contains($0) }) {
                throw APIError.invalid("rate.\(unknown)", "unknown_field", "rate has no member \(unknown); it takes count and per_seconds")
            }
            guard let count = rate["count"] else { throw APIError.invalid("rate.count", "missing_rate_count", "rate.count is required") }
            guard let per = rate["per_seconds"] else {
                throw APIError.invalid("rate.per_seconds", "missing_rate_per_seconds", "rate.per_seconds is required")
            }
            limits.rate = TaskTypeLimits.Rate(
                count: try Self.whole(count, field: "rate.count", "rate.count must be a whole number from 1 to \(TaskTypeLimits.maximum)"),
                per: .seconds(try Self.whole(per, field: "rate.per_seconds", "rate.per_seconds must be a whole number from 1 to 86400")))
        }
        do {
            try limits.validate()
        } catch let error as TaskQueueError {
            throw APIError.invalid(error.field ?? "concurrency", "invalid_limits", error.message)
        }
        self.limits = limits
    }

    private static func whole(_ value: Any, field: String, _ message: String) throws -> Int {
        guard let number = value as? NSNumber, !CreateTaskRequest.isBool(number), let int = Int(exactly: number.doubleValue) else {
            throw APIError.invalid(field, "invalid_\(field.replacingOccurrences(of: ".", with: "_"))", message)
        }
        return int
    }
}

/// A validated `POST /api/v1/tasks/cancel` or `/retry` body: which tasks to act on,
/// `{"status"?, "type"?, "priority"?, "schedule"?, "created_after"?, "created_before"?}` (at least one).
struct SelectionRequest {
    static let fields: Set<String> = ["status", "type", "priority", "schedule", "created_after", "created_before", "error"]
    /// The states a bulk cancel acts on.
    static let cancellable: [TaskStatus] = [.scheduled, .queued, .retrying, .running]
    /// The state a bulk retry acts on.
    static let retryable: [TaskStatus] = [.failed]

    var selection = TaskSelection()

    /// Parses a selection whose `status`, when given, is one of `statuses`.
    init(body: [UInt8], statuses: [TaskStatus]) throws {
        try self.init(fields: try CreateTaskRequest.object(body, fields: Self.fields), statuses: statuses)
    }

    /// Parses a selection from its fields (a JSON object's members, or a dashboard form's).
    init(fields object: [String: Any], statuses: [TaskStatus]) throws {
        func text(_ field: String) throws -> String? {
            guard let value = object[field] else { return nil }
            guard let text = value as? String else { throw APIError.invalid(field, "invalid_\(field)", "\(field) must be a string") }
            return text
        }
        if let status = try text("status") {
            guard let parsed = TaskStatus(rawValue: status), statuses.contains(parsed) else {
                throw APIError.invalid("status", "invalid_status", "status must be one of \(statuses.map(\.rawValue).joined(separator: ", "))")
            }
            selection.status = parsed
        }
        if let type = try text("type") {
            guard NewTask.isValidType(type) else {
                throw APIError.invalid("type", "invalid_type", "a task type is 1-128 letters, digits, '.', '_', ':' or '-'")
            }
            selection.type = type
        }
        if let priority = try text("priority") {
            guard let parsed = TaskPriority(rawValue: priority) else {
                throw APIError.invalid("priority", "invalid_priority", "priority must be one of high, normal, low")
            }
            selection.priority = parsed
        }
        if let schedule = try text("schedule") {
            guard Schedule.isValidName(schedule) else {
                throw APIError.invalid(
                    "schedule", "invalid_schedule", "a schedule name is 1-\(Schedule.maxNameLength) characters, without '/' or control characters")
            }
            selection.schedule = schedule
        }
        for field in ["created_after", "created_before"] {
            guard let value = try text(field) else { continue }
            guard let date = CreateTaskRequest.parseTimestamp(value) else {
                throw APIError.invalid(field, "invalid_\(field)", "\(field) must be an RFC 3339 timestamp such as 2030-01-01T12:00:00Z")
            }
            if field == "created_after" { selection.createdAfter = date } else { selection.createdBefore = date }
        }
        if let error = try text("error") {
            guard (1...8192).contains(error.count) else { throw APIError.invalid("error", "invalid_error", "error is 1 to 8192 characters") }
            selection.error = error
        }
        guard !selection.isEmpty else {
            throw APIError.invalid(
                "status", "empty_selection", "give at least one of \(Self.fields.sorted().joined(separator: ", ")); an empty selection would cancel every task")
        }
    }
}

/// How limits look on the wire.
enum LimitsJSON {
    static func state(_ state: TaskTypeLimitState) -> JSONValue {
        .object([
            "type": .string(state.type),
            "concurrency": state.limits.concurrency.map(JSONValue.int) ?? .null,
            "rate": state.limits.rate.map { .object(["count": .int($0.count), "per_seconds": .int($0.seconds)]) } ?? .null,
            "running": .int(state.running),
            "started_in_window": state.startedInWindow.map(JSONValue.int) ?? .null,
            "held": .int(state.held),
            "updated_at": .timestamp(state.updatedAt),
        ])
    }
}

/// How worker processes look on the wire.
enum WorkerJSON {
    static func worker(_ worker: WorkerPresence) -> JSONValue {
        .object([
            "id": .string(worker.id), "host": .string(worker.host), "pid": .int(worker.pid), "version": .string(worker.version),
            "concurrency": .int(worker.concurrency), "running": .int(worker.running), "online": .bool(worker.isOnline),
            "started_at": .timestamp(worker.startedAt), "heartbeat_at": .timestamp(worker.heartbeatAt),
            "stopped_at": .timestamp(worker.stoppedAt), "types": .array(worker.types.map(JSONValue.string)),
            "start_latency": latency(worker.startLatency),
        ])
    }

    /// Samples and percentiles in milliseconds (null without samples).
    static func latency(_ latency: StartLatency) -> JSONValue {
        func ms(_ q: Double) -> JSONValue {
            latency.quantile(q).map { .double(($0.seconds * 1000 * 1000).rounded() / 1000) } ?? .null
        }
        return .object(["samples": .int(latency.samples), "p50_ms": ms(0.5), "p99_ms": ms(0.99)])
    }
}
