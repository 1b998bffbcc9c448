import Foundation
import Logging
import TaskQueue

/// Bootstraps swift-log from `LOG_LEVEL` (trace…critical, default info) and `LOG_FORMAT`
/// (`json`, one object per line, or `text`; default json). With tracing on, every line written
/// while a span is active carries its `trace_id` and `span_id`.
public enum LogSetup {
    public static func bootstrap(_ env: EnvironmentReader) throws -> Logger.Level {
        let metadataProvider = try TracingSetup.isRequested(env) ? TracingSetup.loggingMetadataProvider : nil
        let levelText = env.string("LOG_LEVEL", default: "info").lowercased()
        guard let level = Logger.Level(rawValue: levelText) else {
            throw EnvironmentReader.InvalidSetting(
                variable: "LOG_LEVEL", problem: "\"\(levelText)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        let format = env.string("LOG_FORMAT", default: "json").lowercased()
        switch format {
        case "json":
            LoggingSystem.bootstrap(
                { label, provider in
                    var handler = JSONLogHandler(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                }, metadataProvider: metadataProvider)
        case "text":
            LoggingSystem.bootstrap(
                { label, provider in
                    var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                    handler.logLevel = level
                    return handler
                }, metadataProvider: metadataProvider)
        default:
            throw EnvironmentReader.InvalidSetting(variable: "LOG_FORMAT", problem: "\"\(format)\" is not json or text")
        }
        return level
    }
}

/// Writes one JSON object per line to standard error: time, level, label, message, metadata.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: Any] = [
            "time": Timestamp.format(Date()),
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
        ]
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        merged.merge(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged { fields[key] = Self.plain(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        var line = data
        line.append(0x0A)
        FileHandle.standardError.write(line)
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .array(let values): values.map(plain)
        case .dictionary(let values): values.mapValues(plain)
        }
    }
}
