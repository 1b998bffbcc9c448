import Logging
import OTel
import ServiceLifecycle
import TaskQueue
import Tracing

/// OpenTelemetry traces for the `api` and `worker` processes, exported over OTLP/HTTP by
/// swift-otel. Off unless the environment names an OTLP endpoint; configured by the standard
/// variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
/// `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_PROPAGATORS`,
/// `OTEL_BSP_*`, `OTEL_SDK_DISABLED`). Only traces: metrics stay with Prometheus and logs with
/// swift-log, which then carry the active span's `trace_id` and `span_id`.
public enum TracingSetup {
    /// Whether the environment asks for traces: an OTLP endpoint is set, the SDK is not disabled
    /// and the traces exporter is not `none`.
    public static func isRequested(_ env: EnvironmentReader) throws -> Bool {
        guard env.string("OTEL_EXPORTER_OTLP_ENDPOINT") != nil || env.string("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != nil else {
            return false
        }
        if try env.bool("OTEL_SDK_DISABLED", default: false) { return false }
        return env.string("OTEL_TRACES_EXPORTER", default: "otlp").lowercased() != "none"
    }

    /// Bootstraps `InstrumentationSystem` with swift-otel's tracer when ``isRequested(_:)``, and
    /// returns the exporter's service (nil when tracing is off). Run it as the first service of the
    /// process's ServiceGroup: a group stops its services in reverse order, so the exporter stops
    /// last and sends the spans of the final drain.
    ///
    /// Call it before anything reads `InstrumentationSystem.tracer` (the queue, an `HTTPClient`).
    public static func bootstrap(_ env: EnvironmentReader, serviceName: String) throws -> (any Service)? {
        guard try isRequested(env) else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.exporter = .otlp
        configuration.diagnosticLogger = .custom(Logger(label: "taskflow.otel"))
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    /// Log metadata naming the active span (`trace_id`, `span_id`, `trace_flags`).
    public static var loggingMetadataProvider: Logger.MetadataProvider { OTel.makeLoggingMetadataProvider() }
}
