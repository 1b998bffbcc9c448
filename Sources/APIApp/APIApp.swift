import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import TaskFlowService
import TaskQueue

/// Builds and runs the API process.
public enum APIApp {
    public static func run() async throws {
        let env = EnvironmentReader()
        _ = try LogSetup.bootstrap(env)
        let settings = try APISettings.fromEnvironment(env)
        let metrics = MetricsSetup.bootstrap()
        // Before the queue reads the tracer it records with.
        let tracing = try TracingSetup.bootstrap(env, serviceName: "taskflow-api")
        let logger = Logger(label: "taskflow.api")
        let queue = try await TaskQueue.connect(configuration: settings.queue, logger: logger)
        let app = buildApplication(queue: queue, settings: settings, metrics: metrics, services: tracing.map { [$0] } ?? [], logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// The API's application; `services` run beside the server and stop after it (the trace exporter).
    public static func buildApplication(
        queue: TaskQueue, settings: APISettings, metrics: PrometheusCollectorRegistry, services: [any Service] = [], logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: Routes.build(queue: queue, settings: settings, metrics: metrics),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "taskflow-api"),
            services: services,
            logger: logger
        )
    }
}
