import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import TaskFlowService
import Testing

@testable import APIApp
@testable import TaskQueue

/// Metrics can be bootstrapped once per process.
let sharedMetrics = MetricsSetup.bootstrap()

/// An API over its own schema and streams on the test servers.
struct APIHarness {
    let queue: TaskQueue
    let settings: APISettings
    let schema: String

    static func with(
        tokens: [String] = [], maxPayloadBytes: Int = 1 << 20, _ body: @escaping @Sendable (APIHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let schema = "t_api_\(UUID().uuidString.prefix(8).lowercased())"
        let env = ProcessInfo.processInfo.environment
        let configuration = TaskQueueConfiguration(
            postgres: PostgresConfiguration(
                url: env["DATABASE_URL"] ?? "postgres://taskflow@127.0.0.1:15432/taskflow?sslmode=disable", poolSize: 4, schema: schema),
            nats: NATSConfiguration(url: env["NATS_URL"] ?? "nats://127.0.0.1:14222", connectionName: schema),
            streamName: schema.uppercased(), subjectPrefix: schema, consumerName: schema
        )
        var logger = Logger(label: "api-test")
        logger.logLevel = .warning
        let queue = try await TaskQueue.connect(configuration: configuration, logger: logger)
        let harness = APIHarness(queue: queue, settings: APISettings(queue: configuration, maxPayloadBytes: maxPayloadBytes, tokens: tokens), schema: schema)
        let app = Application(router: Routes.build(queue: queue, settings: harness.settings, metrics: sharedMetrics), logger: logger)
        do {
            try await app.test(.router) { client in try await body(harness, client) }
        } catch {
            await harness.tearDown()
            throw error
        }
        await harness.tearDown()
    }

    func tearDown() async {
        try? await queue.nats.deleteStream(settings.queue.streamName)
        try? await queue.nats.deleteStream(settings.queue.deadLetterStreamName)
        _ = try? await queue.pool.withSession { [schema] in try $0.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
    }
}

extension TestClientProtocol {
    /// Sends a request and returns the status, headers and parsed JSON body.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = [:],
        contentType: String? = "application/json"
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: [String: Any]) {
        var headers = headers
        if json != nil, let contentType { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            let data = Data(response.body.readableBytesView)
            let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? ["raw": String(decoding: data, as: UTF8.self)]
            return (response.status, response.headers, body)
        }
    }
}

/// The error code of an error response.
func errorCode(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }
func errorField(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["field"] as? String }
