import Foundation
import TaskQueue

/// A validated `POST /api/v1/tasks` body.
struct CreateTaskRequest {
    static let fields: Set<String> = ["type", "payload", "priority", "max_attempts", "run_at", "delay_seconds"]

    var task: NewTask

    /// Parses and validates the body; every problem is a 400 naming the field.
    init(body: [UInt8], idempotencyKey: String?) throws {
        let object = try Self.object(body, fields: Self.fields)
        guard let typeValue = object["type"] else { throw APIError.invalid("type", "missing_type", "type is required") }
        guard let type = typeValue as? String else { throw APIError.invalid("type", "invalid_type", "type must be a string") }

        var priority = TaskPriority.normal
        if let value = object["priority"] {
            guard let text = value as? String, let parsed = TaskPriority(rawValue: text) else {
                throw APIError.invalid("priority", "invalid_priority", "priority must be one of high, normal, low")
            }
            priority = parsed
        }

        var maxAttempts: Int?
        if let value = object["max_attempts"] {
            guard let number = value as? NSNumber, !Self.isBool(number), let int = Int(exactly: number.doubleValue) else {
                throw APIError.invalid("max_attempts", "invalid_max_attempts", "max_attempts must be a whole number from 1 to 100")
            }
            maxAttempts = int
        }

        var runAt: Date?
        // Absent means "not given"; null is a value of the wrong type, like any other.
        let runAtValue = object["run_at"]
        let delayValue = object["delay_seconds"]
        if runAtValue != nil, delayValue != nil {
            throw APIError.invalid("run_at", "conflicting_schedule", "give run_at or delay_seconds, not both")
        }
        if let value = runAtValue {
            guard let text = value as? String, let date = Self.parseTimestamp(text) else {
                throw APIError.invalid("run_at", "invalid_run_at", "run_at must be an RFC 3339 timestamp such as 2030-01-01T12:00:00Z")
            }
            guard date.timeIntervalSinceNow < 366 * 86_400 else {
                throw APIError.invalid("run_at", "invalid_run_at", "run_at must be within a year")
            }
            runAt = date
        }
        if let value = delayValue {
            guard let number = value as? NSNumber, !Self.isBool(number), number.doubleValue.isFinite,
                (0...(365 * 86_400.0)).contains(number.doubleValue)
            else {
                throw APIError.invalid("delay_seconds", "invalid_delay_seconds", "delay_seconds must be a number from 0 to 31536000")
            }
            if number.doubleValue > 0 { runAt = Date().addingTimeInterval(number.doubleValue) }
        }

        // The payload goes to PostgreSQL as the client wrote it (the parse above proved it valid
        // JSON); writing the parsed value out again cost more than the parse itself.
        let payloadText: String
        if let raw = RawJSON.member("payload", of: body) {
            payloadText = String(decoding: raw, as: UTF8.self)
        } else if let payload = object["payload"] {
            payloadText = String(decoding: try JSONSerialization.data(withJSONObject: payload, options: [.fragmentsAllowed]), as: UTF8.self)
        } else {
            payloadText = "{}"
        }

        task = NewTask(
            type: type, payloadJSON: payloadText, priority: priority,
            maxAttempts: maxAttempts, runAt: runAt, idempotencyKey: idempotencyKey)
        // The library's own check, the one every enqueue passes: type name, attempt range, key length.
        do {
            try task.validate()
        } catch let error as TaskQueueError {
            throw APIError.from(error)
        }
    }

    /// A request body that must be a JSON object with members among `fields`: 400 naming the
    /// problem otherwise (malformed JSON, another JSON value, the first unknown member).
    static func object(_ body: [UInt8], fields: Set<String>) throws -> [String: Any] {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw APIError(.badRequest, "malformed_json", "the request body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError(.badRequest, "invalid_body", "the request body must be a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError.invalid(unknown, "unknown_field", "unknown field \(unknown)")
        }
        return object
    }

    /// JSONSerialization turns true/false into NSNumber (objCType "c"); a boolean is not a number here.
    static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    /// RFC 3339: `2030-01-01T12:00:00Z`, with optional fraction and a `Z` or `±HH:MM` offset.
    static func parseTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("Tt "), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = digits(2), expect(":"), let minutes = digits(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        return Date(utcYear: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
            .addingTimeInterval(Double(-offset))
    }
}
