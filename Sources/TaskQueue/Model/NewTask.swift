import Foundation

/// What to enqueue: a task type, its JSON payload and options.
///
/// Typed code builds these from a ``TaskDefinition``; the REST API and dynamic callers build them
/// from a type name and JSON text. Both go through ``validate()`` before anything is stored.
public struct NewTask: Sendable {
    /// The task type: the name a handler is registered under.
    public var type: String
    /// JSON text of the payload.
    public var payloadJSON: String
    /// The task's priority.
    public var priority: TaskPriority
    /// Attempts allowed (1-100); nil takes the queue's default.
    public var maxAttempts: Int?
    /// When the task may run; nil or a past time means now.
    public var runAt: Date?
    /// Same key, same task: a repeat returns the existing task instead of adding a row.
    public var idempotencyKey: String?
    /// The trace the task was enqueued in, set by the enqueue when tracing is on.
    var trace: TaskTrace?

    /// A task with a raw JSON payload (validated before it is stored).
    public init(
        type: String, payloadJSON: String = "{}", priority: TaskPriority = .normal, maxAttempts: Int? = nil,
        runAt: Date? = nil, idempotencyKey: String? = nil
    ) {
        self.type = type
        self.payloadJSON = payloadJSON
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.idempotencyKey = idempotencyKey
    }

    /// A task whose payload is any `Encodable` value.
    public init<P: Encodable>(
        type: String, payload: P, priority: TaskPriority = .normal, maxAttempts: Int? = nil,
        runAt: Date? = nil, delay: Duration? = nil, idempotencyKey: String? = nil
    ) throws {
        let data: Data
        do { data = try JSONEncoder().encode(payload) } catch {
            throw TaskQueueError(.payloadCoding, "cannot encode payload for \(type): \(error)")
        }
        let when = runAt ?? delay.map { Date().addingTimeInterval($0.seconds) }
        self.init(
            type: type, payloadJSON: String(decoding: data, as: UTF8.self), priority: priority,
            maxAttempts: maxAttempts, runAt: when, idempotencyKey: idempotencyKey)
    }

    /// The longest an idempotency key may be, in characters.
    public static let maxIdempotencyKeyLength = 255
    /// The attempts a task may be given.
    public static let maxAttemptsRange = 1...100

    /// Checks everything TaskFlow requires of a task before storing it: a valid type name,
    /// attempts within ``maxAttemptsRange``, an idempotency key of 1-255 characters, a payload
    /// that is JSON. The one check both the library and the REST API apply.
    ///
    /// - Throws: ``TaskQueueError`` with code `invalidArgument` and ``TaskQueueError/field`` naming
    ///   the offending field (`type`, `max_attempts`, `idempotency_key` or `payload`).
    public func validate() throws {
        guard Self.isValidType(type) else {
            throw TaskQueueError(.invalidArgument, "type must be 1-128 characters from [A-Za-z0-9._:-]", field: "type")
        }
        if let maxAttempts, !Self.maxAttemptsRange.contains(maxAttempts) {
            throw TaskQueueError(.invalidArgument, "max_attempts must be a whole number from 1 to 100", field: "max_attempts")
        }
        if let key = idempotencyKey, key.isEmpty || key.count > Self.maxIdempotencyKeyLength {
            throw TaskQueueError(.invalidArgument, "idempotency key must be 1-255 characters", field: "idempotency_key")
        }
        guard (try? JSONSerialization.jsonObject(with: Data(payloadJSON.utf8), options: [.fragmentsAllowed])) != nil else {
            throw TaskQueueError(.invalidArgument, "payload is not valid JSON", field: "payload")
        }
    }

    /// Whether `type` is a valid task type name: 1-128 characters from `[A-Za-z0-9._:-]`.
    public static func isValidType(_ type: String) -> Bool {
        let utf8 = type.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}
