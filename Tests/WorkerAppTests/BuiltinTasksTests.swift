import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import TaskQueue
@testable import WorkerApp

/// The `webhook` task type against a real local HTTP server.
@Suite("Built-in webhook task")
struct BuiltinTasksTests {
    static func receiver() -> some ApplicationProtocol {
        let router = Router()
        router.post("/ok") { _, _ in Response(status: .noContent) }
        router.post("/bad") { _, _ in Response(status: .badRequest) }
        router.post("/boom") { _, _ in Response(status: .serviceUnavailable) }
        router.post("/slow") { _, _ -> Response in
            try await Task.sleep(for: .seconds(2))
            return Response(status: .ok)
        }
        router.put("/echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            let matches =
                request.headers[HTTPField.Name("X-Test")!] == "yes" && json?["n"] as? Int == 7
                && request.headers[.contentType] == "application/json"
            return Response(status: matches ? .ok : .badRequest)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static let context = TaskContext(
        taskID: UUID(), type: "webhook", priority: .normal, attempt: 1, maxAttempts: 3,
        workerID: "test", logger: Logger(label: "webhook-test"))

    func call(
        _ url: String, method: String? = nil, headers: [String: String]? = nil, body: JSONValue? = nil,
        client: HTTPClient, timeout: Duration = .seconds(5)
    ) async throws {
        try await BuiltinTasks.webhook(
            BuiltinTasks.WebhookPayload(url: url, method: method, headers: headers, body: body),
            client: client, timeout: timeout, context: Self.context
        )
    }

    @Test func statusCodesDecideSuccessRetryOrFailure() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await Self.receiver().test(.live) { server in
                let base = "http://127.0.0.1:\(try #require(server.port))"
                try await call("\(base)/ok", client: client)
                try await call("\(base)/echo", method: "PUT", headers: ["X-Test": "yes"], body: .object(["n": .number(7)]), client: client)
                await #expect(throws: TerminalTaskError.self) { try await call("\(base)/bad", client: client) }
                await #expect(throws: BuiltinTasks.WebhookError.self) { try await call("\(base)/boom", client: client) }
                do {
                    try await call("\(base)/slow", client: client, timeout: .milliseconds(200))
                    Issue.record("a slow webhook did not time out")
                } catch let error as BuiltinTasks.WebhookError {
                    #expect(error.message.contains("timed out"))
                }
                await #expect(throws: TerminalTaskError.self) { try await call("ftp://127.0.0.1/x", client: client) }
                await #expect(throws: TerminalTaskError.self) { try await call("\(base)/ok", method: "BREW", client: client) }
            }
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    @Test func failAndSleepPayloadsAreChecked() async throws {
        let registry = TaskHandlerRegistry()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        try BuiltinTasks.register(in: registry, httpClient: client, webhookTimeout: .seconds(1))
        #expect(registry.types == ["dead", "demo", "fail", "noop", "sleep", "webhook"])
        let fail = try #require(registry.entry(for: "fail")?.handler)
        var second = Self.context
        second = TaskContext(taskID: second.taskID, type: "fail", priority: .normal, attempt: 3, maxAttempts: 5, workerID: "t", logger: second.logger)
        await #expect(throws: BuiltinTasks.DeliberateFailure.self) { try await fail(#"{"times":2}"#, Self.context) }
        try await fail(#"{"times":2}"#, second)
        let sleep = try #require(registry.entry(for: "sleep")?.handler)
        await #expect(throws: TerminalTaskError.self) { try await sleep(#"{"ms":-5}"#, Self.context) }
        await #expect(throws: TerminalTaskError.self) { try await registry.entry(for: "dead")!.handler("{}", Self.context) }
        try await client.shutdown()
    }
}
