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
        guard let object = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any], object.count == 1,
            let (key, value) = object.first, let relation = Relation(rawValue: key), let fields = value as? [String: String],
            !fields.isEmpty
        else { return nil }
        self.relation = relation
        self.fields = fields
        self.stored = stored
    }

    init(relation: Relation, fields: [String: String]) {
        self.relation = relation
        self.fields = fields
        let data = (try? JSONSerialization.data(withJSONObject: [relation.rawValue: fields], options: [.sortedKeys])) ?? Data()
        stored = String(decoding: data, as: UTF8.self)
    }

    /// The span context the fields describe, as `tracer` extracts it.
    func context(tracer: any Tracer) -> ServiceContext {
        var context = ServiceContext.topLevel
        tracer.extract(fields, into: &context, using: DictionaryExtractor())
        return context
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
