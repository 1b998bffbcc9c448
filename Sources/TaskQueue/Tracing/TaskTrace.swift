import Foundation
import Tracing

/// The trace a task was enqueued in, as stored with the task (`tasks.trace_context`) and sent in
/// its message's headers: the fields the tracer injected (W3C `traceparent` and `tracestate`
/// with OpenTelemetry), and whether the task's attempts continue that trace or start their own
/// with a link to it.
///
/// A task enqueued on its own continues its caller's trace: one trace shows the request, the
/// enqueue and every attempt. A task of a batch, or of a schedule's fire, is linked instead: a
/// batch of a thousand tasks (or a schedule firing for months) would otherwise make one trace
/// that never ends and that no viewer can show.
struct TaskTrace: Sendable, Equatable {
    enum Relation: String, Sendable {
        /// The attempts are children of the enqueue span.
        case parent
        /// The attempts start a trace of their own, linked to the span that created the task.
        case link
    }

    let relation: Relation
    /// What the tracer injected, by header name.
    let fields: [String: String]
    /// The JSON text stored in `tasks.trace_context`: `{"parent": {fields}}` or `{"link": {fields}}`
    /// (made once: a batch's thousand tasks share one).
    let stored: String

    /// The current span's context as `tracer` injects it; nil when it injects nothing (no
    /// active span).
    static func capture(_ context: ServiceContext, tracer: any Tracer, relation: Relation) -> TaskTrace? {
        var fields: [String: String] = [:]
        tracer.inject(context, into: &fields, using: DictionaryInjector())
        return fields.isEmpty ? nil : TaskTrace(relation: relation, fields: fields)
    }

    /// Reads what ``stored`` wrote; nil for anything else (a column edited by hand is ignored,
    /// not an error: the task runs untraced by its enqueue).
    init?(stored: String) {
        // Written by hand for the text this type stores (no escapes: W3C fields never need any);
        // JSONSerialization, for anything else, cost more than the rest of reading a claimed task.
        if let (relation, fields) = Self.parsePlain(stored) {
            self.relation = relation
            self.fields = fields
        } else {
            guard let object = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any], object.count == 1,
                let (key, value) = object.first, let relation = Relation(rawValue: key), let fields = value as? [String: String]
            else { return nil }
            self.relation = relation
            self.fields = fields
        }
        guard !fields.isEmpty else { return nil }
        self.stored = stored
    }

    init(relation: Relation, fields: [String: String]) {
        self.relation = relation
        self.fields = fields
        stored =
            Self.plainText(relation: relation, fields: fields)
            ?? String(
                decoding: (try? JSONSerialization.data(withJSONObject: [relation.rawValue: fields], options: [.sortedKeys])) ?? Data(),
                as: UTF8.self)
    }

    /// The stored text written directly, when no key or value needs a JSON escape.
    private static func plainText(relation: Relation, fields: [String: String]) -> String? {
        func isPlain(_ text: String) -> Bool {
            text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        }
        var text = "{\"\(relation.rawValue)\":{"
        for (index, key) in fields.keys.sorted().enumerated() {
            guard let value = fields[key], isPlain(key), isPlain(value) else { return nil }
            if index > 0 { text += "," }
            text += "\"\(key)\":\"\(value)\""
        }
        return text + "}}"
    }

    /// Reads `{"relation": {"key": "value", ...}}` with any spacing and no escapes; nil otherwise.
    private static func parsePlain(_ text: String) -> (Relation, [String: String])? {
        var scanner = PlainJSONScanner(Array(text.utf8))
        guard scanner.take("{"), let key = scanner.string(), let relation = Relation(rawValue: key), scanner.take(":"), scanner.take("{")
        else { return nil }
        var fields: [String: String] = [:]
        if !scanner.take("}") {
            repeat {
                guard let name = scanner.string(), scanner.take(":"), let value = scanner.string() else { return nil }
                fields[name] = value
            } while scanner.take(",")
            guard scanner.take("}") else { return nil }
        }
        guard scanner.take("}"), scanner.atEnd else { return nil }
        return (relation, fields)
    }

    /// The span context the fields describe, as `tracer` extracts it.
    func context(tracer: any Tracer) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(fields, into: &context, using: DictionaryExtractor())
        return context
    }
}

/// Reads the few JSON tokens ``TaskTrace`` stores: punctuation and strings without escapes.
private struct PlainJSONScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpaces() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    /// Consumes `character` (after any spaces) if it comes next.
    mutating func take(_ character: Unicode.Scalar) -> Bool {
        skipSpaces()
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    /// A string without escapes; nil at anything else.
    mutating func string() -> String? {
        guard take("\"") else { return nil }
        let start = position
        while position < bytes.count, bytes[position] != UInt8(ascii: "\"") {
            if bytes[position] == UInt8(ascii: "\\") || bytes[position] < 0x20 { return nil }
            position += 1
        }
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    var atEnd: Bool {
        mutating get {
            skipSpaces()
            return position == bytes.count
        }
    }
}

/// Writes injected trace fields into a dictionary.
struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads trace fields from a dictionary.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
