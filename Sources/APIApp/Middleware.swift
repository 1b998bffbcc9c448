import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import TaskQueue

/// Gives every request an id (the caller's `X-Request-Id` when sane), logs one line per request
/// with method, path, status and duration, and turns every error into the API's error shape.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let supplied = request.headers[.requestID].flatMap { $0.count <= 128 && $0.allSatisfy { $0.isASCII && !$0.isWhitespace } ? $0 : nil }
        let requestID = supplied ?? RequestID.next()
        context.logger[metadataKey: "request.id"] = .string(requestID)
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = try Self.errorResponse(error, request: request, context: context)
        }
        response.headers[.requestID] = requestID
        let elapsed = ContinuousClock.now - started
        context.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)", "duration_ms": "\(elapsed.fractionalMilliseconds)",
            ])
        return response
    }

    static func errorResponse(_ error: Error, request: Request, context: Context) throws -> Response {
        switch error {
        case let error as APIError:
            return try error.response(from: request, context: context)
        case let error as TaskQueueError:
            let mapped = APIError.from(error)
            if mapped.status == .internalServerError {
                context.logger.error("request failed", metadata: ["error": "\(error)"])
            }
            return try mapped.response(from: request, context: context)
        case is NIOTooManyBytesError:
            return try APIError(.contentTooLarge, "payload_too_large", "the request body is larger than allowed").response(from: request, context: context)
        case let error as HTTPError where error.status == .notFound:
            if let allowed = Routes.allowedMethods(for: request.uri.path) {
                return try APIError(
                    .methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed here; use \(allowed.joined(separator: ", "))",
                    headers: [.allow: allowed.joined(separator: ", ")]
                ).response(from: request, context: context)
            }
            return try APIError(.notFound, "not_found", "no such endpoint").response(from: request, context: context)
        case let error as HTTPError where error.status.code < 500:
            return try APIError(error.status, "bad_request", error.body ?? error.status.reasonPhrase).response(from: request, context: context)
        default:
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return try APIError(.internalServerError, "internal_error", "the request could not be completed").response(from: request, context: context)
        }
    }
}

/// Per-request metrics under Hummingbird's names (`hb.requests`, `http.server.request.duration`,
/// `hb.request.errors`, `http.server.active_requests`), recorded when the response is ready.
///
/// Hummingbird's own MetricsMiddleware records after the body is written, by wrapping the body in
/// a closure; a wrapped body loses Hummingbird's single-write path, so every response went out as
/// two writes (head, then body): two system calls and two TCP segments, which the client reads
/// separately. Every response here is a buffered body, ready when the handler returns, so the
/// time to that point is the request's time.
///
/// It runs outside `AccessMiddleware`, so it sees the status the client gets (an error thrown by
/// a handler is already its API response); a response with status 400 or above counts as an
/// error of that status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    struct EndpointKey: Hashable, Sendable {
        let endpoint: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }

    struct EndpointMetrics: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
        /// Only statuses of 400 and above have an error series.
        let errors: Counter?

        init(_ key: EndpointKey) {
            let labels = [
                ("http.route", key.endpoint), ("http.request.method", key.method.rawValue),
                ("http.response.status_code", key.status.code.description),
            ]
            requests = Counter(label: "hb.requests", dimensions: labels)
            duration = Metrics.Timer(label: "http.server.request.duration", dimensions: labels, preferredDisplayUnit: .seconds)
            errors =
                key.status.code >= 400
                ? Counter(
                    label: "hb.request.errors",
                    dimensions: [
                        ("http.route", key.endpoint), ("http.request.method", key.method.rawValue), ("error.type", key.status.code.description),
                    ]) : nil
        }
    }

    /// Routes are the router's patterns (unmatched paths share one label) and methods the few the
    /// HTTP parser accepts, so the sets stay small; the caches' limit bounds them anyway.
    private let endpoints = MetricHandleCache<EndpointKey, EndpointMetrics>(
        overflow: { EndpointKey(endpoint: MetricHandleCache<EndpointKey, EndpointMetrics>.overflowLabel, method: $0.method, status: $0.status) },
        make: EndpointMetrics.init
    )
    private let activeRequests = MetricHandleCache<HTTPRequest.Method, Meter>(
        overflow: { $0 },
        make: { Meter(label: "http.server.active_requests", dimensions: [("http.request.method", $0.rawValue)]) }
    )

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let active = activeRequests[request.method]
        active.increment()
        defer { active.decrement() }
        let status: HTTPResponse.Status
        let response: Response
        do {
            response = try await next(request, context)
            status = response.status
        } catch {
            // Only when even the error response could not be made.
            record(request, context: context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: started)
            throw error
        }
        record(request, context: context, status: status, since: started)
        return response
    }

    private func record(_ request: Request, context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
        let key = EndpointKey(endpoint: context.endpointPath ?? (status == .notFound ? "NotFound" : "Unknown"), method: request.method, status: status)
        let metrics = endpoints[key]
        metrics.requests.increment()
        metrics.errors?.increment()
        metrics.duration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }
}

/// Bearer-token auth; tokens are compared in constant time.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [[UInt8]]

    init(tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !tokens.isEmpty else { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        guard header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, "unauthorized", "a bearer token is required", headers: [.wwwAuthenticate: "Bearer"])
        }
        let presented = Array(header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces).utf8)
        var matched = false
        for token in tokens where constantTimeEqual(token, presented) { matched = true }
        guard matched else {
            throw APIError(.unauthorized, "unauthorized", "the bearer token is not valid", headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }
}

/// Takes the same time for any two inputs of a given length, wherever they differ (tokens, session
/// signatures, CSRF tokens).
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    for index in 0..<max(lhs.count, rhs.count) {
        let a = index < lhs.count ? lhs[index] : 0
        let b = index < rhs.count ? rhs[index] : 0
        difference |= a ^ b
    }
    return difference == 0
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
