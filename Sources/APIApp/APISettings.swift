import Foundation
import TaskFlowService
import TaskQueue

/// The API process's settings, read from the environment in this one place.
public struct APISettings: Sendable {
    public var queue: TaskQueueConfiguration
    public var host: String
    public var port: Int
    /// Largest accepted request body (`MAX_PAYLOAD_BYTES`, default 1 MiB).
    public var maxPayloadBytes: Int
    /// Bearer tokens accepted on `/api/v1/tasks` routes (`API_TOKEN`, comma-separated); empty = no auth.
    public var tokens: [String]
    /// Whether requests are traced (an OTLP endpoint is set; see `TracingSetup`): each request
    /// gets a span, a child of the caller's `traceparent`, and the enqueues it makes are its children.
    public var tracing: Bool

    public init(
        queue: TaskQueueConfiguration, host: String = "127.0.0.1", port: Int = 8080, maxPayloadBytes: Int = 1 << 20, tokens: [String] = [],
        tracing: Bool = false
    ) {
        self.queue = queue
        self.host = host
        self.port = port
        self.maxPayloadBytes = maxPayloadBytes
        self.tokens = tokens
        self.tracing = tracing
    }

    /// `HTTP_HOST` (0.0.0.0), `HTTP_PORT` (8080), `MAX_PAYLOAD_BYTES` (1048576), `API_TOKEN`, the
    /// OpenTelemetry variables `TracingSetup.isRequested` reads, and the
    /// queue settings `TaskQueueConfiguration.fromEnvironment` reads.
    public static func fromEnvironment(_ env: EnvironmentReader = EnvironmentReader()) throws -> APISettings {
        let tokens = (env.string("API_TOKEN") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return APISettings(
            queue: try TaskQueueConfiguration.fromEnvironment(env, connectionName: "taskflow-api"),
            host: env.string("HTTP_HOST", default: "0.0.0.0"),
            port: try env.int("HTTP_PORT", default: 8080, range: 1...65535),
            maxPayloadBytes: try env.int("MAX_PAYLOAD_BYTES", default: 1 << 20, range: 1024...(64 << 20)),
            tokens: tokens,
            tracing: try TracingSetup.isRequested(env)
        )
    }
}
