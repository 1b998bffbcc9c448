import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import TaskFlowService
import TaskQueue

/// Builds and runs a worker process: the TaskWorker with the built-in task types, and an optional
/// HTTP listener for `/metrics` and `/health`, in one ServiceGroup that drains on SIGTERM/SIGINT.
public enum WorkerApp {
    public static func run() async throws {
        let env = EnvironmentReader()
        _ = try LogSetup.bootstrap(env)
        let settings = try WorkerSettings.fromEnvironment(env)
        let registry = MetricsSetup.bootstrap()
        // Before the queue and the HTTP client read the tracer they record with.
        let tracing = try TracingSetup.bootstrap(env, serviceName: "taskflow-worker")
        var logger = Logger(label: "taskflow.worker")
        logger[metadataKey: "worker.id"] = .string(settings.worker.workerID)

        let queue = try await TaskQueue.connect(configuration: settings.queue, logger: logger)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let group = try buildServiceGroup(
            settings: settings, queue: queue, httpClient: httpClient, metrics: registry, tracing: tracing, logger: logger)
        do {
            try await group.run()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }

    /// The worker's services; tests build the same group around their own queue.
    public static func buildServiceGroup(
        settings: WorkerSettings, queue: TaskQueue, httpClient: HTTPClient, metrics: PrometheusCollectorRegistry,
        tracing: (any Service)? = nil, logger: Logger
    ) throws -> ServiceGroup {
        let handlers = TaskHandlerRegistry()
        let successLog = try settings.successLogPath.map { try SuccessLog(path: $0) }
        try BuiltinTasks.register(in: handlers, httpClient: httpClient, webhookTimeout: settings.webhookTimeout, successLog: successLog)
        let worker = TaskWorker(queue: queue, registry: handlers, configuration: settings.worker, logger: logger)
        // Shutdown runs in reverse order: the worker drains first, the probe answers until it has,
        // and the trace exporter sends the spans of the drain before it stops.
        var services: [any Service] = tracing.map { [$0] } ?? []
        if let port = settings.metricsPort {
            services.append(probeApplication(host: settings.metricsHost, port: port, queue: queue, metrics: metrics, logger: logger))
        }
        services.append(worker)
        return ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
    }

    static func probeApplication(host: String, port: Int, queue: TaskQueue, metrics: PrometheusCollectorRegistry, logger: Logger) -> some Service {
        Application(router: probeRouter(queue: queue, metrics: metrics), configuration: .init(address: .hostname(host, port: port)), logger: logger)
    }

    /// `/metrics`, and `/health` answering as the API's `/api/v1/ready` does.
    static func probeRouter(queue: TaskQueue, metrics: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ in metrics.response() }
        router.get("/health") { _, _ in await Readiness.check(queue).response }
        return router
    }
}
