import Foundation
import TaskQueue

/// A validated `POST /api/v1/schedules` or `PATCH /api/v1/schedules/{name}` body.
struct ScheduleRequest {
    static let fields: Set<String> = ["name", "cron", "type", "payload", "priority", "timezone", "missed", "max_attempts"]

    var schedule: Schedule

    /// A new schedule: `name`, `cron` and `type` are required. Every problem is a 400 naming the field.
    init(creating body: [UInt8]) throws {
        let object = try CreateTaskRequest.object(body, fields: Self.fields)
        try self.init(object, body: body, over: nil)
    }

    /// `existing` with the fields the body gives changed; the name cannot change.
    init(patching existing: Schedule, body: [UInt8]) throws {
        let object = try CreateTaskRequest.object(body, fields: Self.fields)
        if let name = object["name"], (name as? String) != existing.name {
            throw APIError.invalid("name", "invalid_name", "a schedule cannot be renamed; create one under the new name")
        }
        try self.init(object, body: body, over: existing)
    }

    private init(_ object: [String: Any], body: [UInt8], over existing: Schedule?) throws {
        func string(_ field: String, required: Bool) throws -> String? {
            guard let value = object[field] else {
                if required { throw APIError.invalid(field, "missing_\(field)", "\(field) is required") }
                return nil
            }
            guard let text = value as? String else { throw APIError.invalid(field, "invalid_\(field)", "\(field) must be a string") }
            return text
        }
        let name = try string("name", required: existing == nil) ?? existing?.name ?? ""
        let cron = try string("cron", required: existing == nil) ?? existing?.cron.description ?? ""
        let type = try string("type", required: existing == nil) ?? existing?.type ?? ""
        let timeZone = try string("timezone", required: false) ?? existing?.timeZone.identifier ?? "UTC"

        var priority = existing?.priority ?? .normal
        if let text = try string("priority", required: false) {
            guard let parsed = TaskPriority(rawValue: text) else {
                throw APIError.invalid("priority", "invalid_priority", "priority must be one of high, normal, low")
            }
            priority = parsed
        }
        var missed = existing?.missed ?? .skip
        if let text = try string("missed", required: false) {
            guard let parsed = MissedFirePolicy(rawValue: text) else {
                throw APIError.invalid("missed", "invalid_missed", "missed must be skip or once")
            }
            missed = parsed
        }
        var maxAttempts = existing?.maxAttempts
        if let value = object["max_attempts"] {
            if value is NSNull {
                maxAttempts = nil
            } else {
                guard let number = value as? NSNumber, !CreateTaskRequest.isBool(number), let int = Int(exactly: number.doubleValue),
                    NewTask.maxAttemptsRange.contains(int)
                else {
                    throw APIError.invalid("max_attempts", "invalid_max_attempts", "max_attempts must be a whole number from 1 to 100")
                }
                maxAttempts = int
            }
        }
        var payloadJSON = existing?.payloadJSON ?? "{}"
        if let raw = RawJSON.member("payload", of: body) {
            payloadJSON = String(decoding: raw, as: UTF8.self)
        } else if let payload = object["payload"] {
            payloadJSON = String(decoding: try JSONSerialization.data(withJSONObject: payload, options: [.fragmentsAllowed]), as: UTF8.self)
        }
        do {
            schedule = try Schedule(
                name, cron: cron, timeZone: timeZone, type: type, payloadJSON: payloadJSON, priority: priority, maxAttempts: maxAttempts,
                missed: missed)
        } catch let error as TaskQueueError {
            throw APIError.from(error)
        }
    }
}

/// How schedules look on the wire.
enum ScheduleJSON {
    static func schedule(_ record: ScheduleRecord) -> JSONValue {
        let schedule = record.schedule
        return .object([
            "name": .string(schedule.name),
            "cron": .string(schedule.cron.description),
            "timezone": .string(schedule.timeZone.identifier),
            "type": .string(schedule.type),
            "payload": .raw(schedule.payloadJSON),
            "priority": .string(schedule.priority.rawValue),
            "max_attempts": .nullable(schedule.maxAttempts),
            "missed": .string(schedule.missed.rawValue),
            "paused": .bool(record.paused),
            "next_fires": .array(record.nextFires.map { .timestamp($0) }),
            "last_fires": .array(
                record.lastFires.map { fire in
                    .object([
                        "fire_at": .timestamp(fire.fireAt), "task_id": .string(fire.taskID.lowercasedText), "manual": .bool(fire.manual),
                        "fired_at": .timestamp(fire.firedAt),
                    ])
                }),
            "created_at": .timestamp(record.createdAt),
            "updated_at": .timestamp(record.updatedAt),
        ])
    }
}
