import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import TaskQueue
import Testing

@testable import WorkerApp

/// The worker's `/health` answers in the shape of the API's `/api/v1/ready`.
@Suite struct HealthTests {
    @Test func postgresDownIsAServiceUnavailableNamingIt() async throws {
        let configuration = TaskQueueConfiguration(
            postgres: PostgresConfiguration(url: "postgres://taskflow@127.0.0.1:1/taskflow?connect_timeout=2", poolSize: 1),
            nats: NATSConfiguration(url: ProcessInfo.processInfo.environment["NATS_URL"] ?? "nats://127.0.0.1:14222"),
            streamName: "T_WORKER_DOWN", subjectPrefix: "t_worker_down", runMigrations: false
        )
        let queue = try await TaskQueue.connect(configuration: configuration)
        let app = Application(router: WorkerApp.probeRouter(queue: queue, metrics: PrometheusCollectorRegistry()))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                #expect(body?["status"] as? String == "unavailable")
                #expect((body?["checks"] as? [String: String]) == ["postgresql": "unavailable", "nats": "ok"])
            }
        }
        try? await queue.deleteStreams()
    }
}
