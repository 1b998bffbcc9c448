import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TaskQueue

/// The task types every TaskFlow worker knows: useful in a demo, in the smoke run and in tests.
public enum BuiltinTasks {
    /// `{"ms": N}` for `sleep`; `demo` also accepts it and defaults to a few milliseconds.
    public struct SleepPayload: Codable, Sendable {
        public var ms: Int?
    }

    /// `{"times": N}`: fail (retryably) on the first N attempts, then succeed.
    public struct FailPayload: Codable, Sendable {
        public var times: Int
    }

    /// An HTTP request: 2xx succeeds, 5xx and timeouts retry, 4xx fails for good.
    public struct WebhookPayload: Codable, Sendable {
        public var url: String
        public var method: String?
        public var headers: [String: String]?
        /// A string is sent as it is; any other JSON value is sent encoded, as application/json.
        public var body: JSONValue?
    }

    /// A retryable failure of the `fail` task type.
    public struct DeliberateFailure: Error, CustomStringConvertible {
        public let attempt: Int
        public let times: Int
        public var description: String { "deliberate failure \(attempt) of \(times)" }
    }

    /// Registers `noop`, `demo`, `sleep`, `fail`, `dead` and `webhook`.
    /// With a `successLog`, every successful run is recorded there (the failure suite's counter).
    public static func register(
        in registry: TaskHandlerRegistry, httpClient: HTTPClient, webhookTimeout: Duration,
        successLog: SuccessLog? = nil
    ) throws {
        // Does nothing: what the benchmark measures is TaskFlow's own cost per task.
        try registry.registerJSON("noop") { _, context in successLog?.record(context.taskID) }
        try registry.register("demo", payload: JSONValue.self) { _, context in
            try await Task.sleep(for: .milliseconds(5))
            context.logger.debug("demo task done")
            successLog?.record(context.taskID)
        }
        try registry.register("sleep", payload: SleepPayload.self) { payload, context in
            let ms = payload.ms ?? 0
            guard (0...3_600_000).contains(ms) else { throw TerminalTaskError("ms must be between 0 and 3600000") }
            try await Task.sleep(for: .milliseconds(ms))
            successLog?.record(context.taskID)
        }
        try registry.register("fail", payload: FailPayload.self) { payload, context in
            guard payload.times >= 0 else { throw TerminalTaskError("times must not be negative") }
            let attemptsBefore = context.attempt - 1
            if attemptsBefore < payload.times {
                throw DeliberateFailure(attempt: context.attempt, times: payload.times)
            }
            successLog?.record(context.taskID)
        }
        try registry.register("dead", payload: JSONValue.self) { _, _ in
            throw TerminalTaskError("dead task: fails permanently by design")
        }
        try registry.register("webhook", payload: WebhookPayload.self) { payload, context in
            try await webhook(payload, client: httpClient, timeout: webhookTimeout, context: context)
            successLog?.record(context.taskID)
        }
    }

    static func webhook(_ payload: WebhookPayload, client: HTTPClient, timeout: Duration, context: TaskContext) async throws {
        guard let url = URL(string: payload.url), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw TerminalTaskError("url must be an absolute http(s) URL")
        }
        let methodName = (payload.method ?? "POST").uppercased()
        guard ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(methodName) else {
            throw TerminalTaskError("method \(methodName) is not supported")
        }
        var request = HTTPClientRequest(url: payload.url)
        request.method = HTTPMethod(rawValue: methodName)
        for (name, value) in payload.headers ?? [:] { request.headers.add(name: name, value: value) }
        switch payload.body {
        case .none, .some(.null):
            break
        case .some(.string(let text)):
            request.body = .bytes(ByteBuffer(string: text))
        case .some(let value):
            if request.headers["content-type"].isEmpty { request.headers.add(name: "content-type", value: "application/json") }
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(value)))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw WebhookError(message: "request to \(url.host ?? "") timed out after \(timeout)")
        }
        let status = Int(response.status.code)
        _ = try? await response.body.collect(upTo: 64 * 1024)
        switch status {
        case 200..<300:
            context.logger.debug("webhook delivered", metadata: ["http.status": "\(status)"])
        case 400..<500:
            throw TerminalTaskError("webhook answered \(status) \(response.status.reasonPhrase)")
        default:
            throw WebhookError(message: "webhook answered \(status) \(response.status.reasonPhrase)")
        }
    }

    /// A retryable webhook failure (5xx, timeout, connection error).
    public struct WebhookError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }
}
