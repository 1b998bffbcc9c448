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
        let logger = Logger(label: "taskflow.api")
        let queue = try await TaskQueue.connect(configuration: settings.queue, logger: logger)
        let app = buildApplication(queue: queue, settings: settings, metrics: metrics, logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    public static func buildApplication(queue: TaskQueue, settings: APISettings, metrics: PrometheusCollectorRegistry, logger: Logger)
        -> some ApplicationProtocol
    {
        Application(
            router: Routes.build(queue: queue, settings: settings, metrics: metrics),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "taskflow-api"),
            logger: logger
        )
    }
}
