import Foundation

/// Reads settings from environment variables; a malformed value is an error that names the variable.
public struct EnvironmentReader: Sendable {
    /// A setting that cannot be used, with the variable's name.
    public struct InvalidSetting: Error, CustomStringConvertible, Sendable {
        /// The environment variable at fault.
        public let variable: String
        /// What is wrong with its value.
        public let problem: String
        /// `VARIABLE: problem`.
        public var description: String { "\(variable): \(problem)" }

        /// An invalid setting of `variable`.
        public init(variable: String, problem: String) {
            self.variable = variable
            self.problem = problem
        }
    }

    let values: [String: String]

    /// A reader of these values (by default the process's environment).
    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The value, or nil when unset or empty.
    public func string(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    /// The value, or `fallback` when unset or empty.
    public func string(_ name: String, default fallback: String) -> String { string(name) ?? fallback }

    /// A whole number within `range`, or `fallback` when unset or empty.
    ///
    /// - Throws: ``InvalidSetting`` when the value is not a whole number or is out of range.
    public func int(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return fallback }
        guard let value = Int(text) else { throw InvalidSetting(variable: name, problem: "\"\(text)\" is not a whole number") }
        guard range.contains(value) else {
            throw InvalidSetting(variable: name, problem: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A flag (`1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`), or `fallback` when unset or empty.
    ///
    /// - Throws: ``InvalidSetting`` for any other value.
    public func bool(_ name: String, default fallback: Bool) throws -> Bool {
        guard let text = string(name)?.lowercased() else { return fallback }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw InvalidSetting(variable: name, problem: "\"\(text)\" is not true or false")
        }
    }

    /// A duration such as `500ms`, `2s`, `1m` or `1h` (see ``parseDuration(_:)``), at least
    /// `minimum`, or `fallback` when unset or empty.
    ///
    /// - Throws: ``InvalidSetting`` when the value is not a duration or is below `minimum`.
    public func duration(_ name: String, default fallback: Duration, minimum: Duration = .zero) throws -> Duration {
        guard let text = string(name) else { return fallback }
        guard let value = Self.parseDuration(text) else {
            throw InvalidSetting(variable: name, problem: "\"\(text)\" is not a duration such as 500ms, 2s, 1m, 1h or 7d")
        }
        guard value >= minimum else { throw InvalidSetting(variable: name, problem: "\(text) is shorter than \(minimum)") }
        return value
    }

    /// A duration as ``duration(_:default:minimum:)`` reads it, or nil when unset or empty.
    ///
    /// - Throws: ``InvalidSetting`` when the value is not a duration or is below `minimum`.
    public func optionalDuration(_ name: String, minimum: Duration = .zero) throws -> Duration? {
        guard string(name) != nil else { return nil }
        return try duration(name, default: .zero, minimum: minimum)
    }

    /// Parses `250ms`, `2s`, `1.5s`, `1m`, `1h`, `7d`; a bare number is seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" also ends in "s": let the longer unit win.
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

extension TaskQueueConfiguration {
    /// Fills the configuration from `DATABASE_URL`, `DATABASE_SCHEMA`, `DB_POOL_SIZE`, `NATS_URL`, `NATS_SUBJECT_PREFIX`, `NATS_NAME`, `NATS_CREDS`,
    /// `NATS_TLS_CA`, `NATS_TLS_CERT`, `NATS_TLS_KEY`, `NATS_STREAM_NAME`, `NATS_CONSUMER_NAME`,
    /// `NATS_REPLICAS`, `TASK_LEASE`, `NATS_MAX_ACK_PENDING`, `WORKER_MAX_ATTEMPTS`, `DB_MIGRATE`.
    public static func fromEnvironment(_ env: EnvironmentReader, connectionName: String) throws -> TaskQueueConfiguration {
        guard let databaseURL = env.string("DATABASE_URL") else {
            throw EnvironmentReader.InvalidSetting(variable: "DATABASE_URL", problem: "is not set (e.g. postgres://user@127.0.0.1:5432/taskflow)")
        }
        var nats = NATSConfiguration(
            url: env.string("NATS_URL", default: "nats://127.0.0.1:4222"),
            connectionName: env.string("NATS_NAME", default: connectionName))
        guard !nats.urls.isEmpty else { throw EnvironmentReader.InvalidSetting(variable: "NATS_URL", problem: "has no URL") }
        for url in nats.urls where URL(string: url)?.host == nil {
            throw EnvironmentReader.InvalidSetting(variable: "NATS_URL", problem: "\"\(url)\" is not a nats://host:port URL")
        }
        nats.credentialsFile = env.string("NATS_CREDS")
        nats.tlsCAFile = env.string("NATS_TLS_CA")
        nats.tlsCertificateFile = env.string("NATS_TLS_CERT")
        nats.tlsKeyFile = env.string("NATS_TLS_KEY")
        let stream = env.string("NATS_STREAM_NAME", default: "TASKFLOW")
        guard stream.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw EnvironmentReader.InvalidSetting(variable: "NATS_STREAM_NAME", problem: "may hold only letters, digits, _ and -")
        }
        let schema = env.string("DATABASE_SCHEMA")
        if let schema {
            do { try Migrator.validateSchemaName(schema) } catch {
                throw EnvironmentReader.InvalidSetting(variable: "DATABASE_SCHEMA", problem: "must match [a-z_][a-z0-9_]{0,62}")
            }
        }
        let prefix = env.string("NATS_SUBJECT_PREFIX", default: "tasks")
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }),
            !prefix.hasPrefix("."), !prefix.hasSuffix(".")
        else {
            throw EnvironmentReader.InvalidSetting(variable: "NATS_SUBJECT_PREFIX", problem: "must be a subject token such as tasks")
        }
        return TaskQueueConfiguration(
            postgres: PostgresConfiguration(url: databaseURL, poolSize: try env.int("DB_POOL_SIZE", default: 10, range: 1...200), schema: schema),
            nats: nats,
            streamName: stream,
            subjectPrefix: prefix,
            consumerName: env.string("NATS_CONSUMER_NAME", default: "taskflow-worker"),
            replicas: try env.int("NATS_REPLICAS", default: 1, range: 1...5),
            lease: try env.duration("TASK_LEASE", default: .seconds(30), minimum: .seconds(1)),
            maxAckPending: try env.int("NATS_MAX_ACK_PENDING", default: 1000, range: 1...100_000),
            defaultMaxAttempts: try env.int("WORKER_MAX_ATTEMPTS", default: 5, range: 1...100),
            runMigrations: try env.bool("DB_MIGRATE", default: true)
        )
    }
}
