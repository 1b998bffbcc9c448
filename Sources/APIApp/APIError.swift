import Foundation
import HTTPTypes
import Hummingbird
import TaskQueue

/// The one error shape every endpoint answers with:
/// `{"error": {"code": "...", "message": "...", "field": "..."}}`.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: JSONObject = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(["error": .object(error)]).bytes)))
    }

    static func invalid(_ field: String, _ code: String, _ message: String) -> APIError {
        APIError(.badRequest, code, message, field: field)
    }

    /// Maps the library's errors to HTTP, in one place.
    static func from(_ error: TaskQueueError) -> APIError {
        switch error.code {
        case .taskNotFound: APIError(.notFound, "task_not_found", error.message)
        case .invalidState: APIError(.conflict, "invalid_state", error.message)
        case .scheduleNotFound: APIError(.notFound, "schedule_not_found", error.message)
        case .scheduleExists: APIError(.conflict, "schedule_exists", error.message, field: "name")
        case .idempotencyConflict: APIError(.conflict, "idempotency_conflict", error.message, field: "Idempotency-Key")
        case .invalidArgument:
            switch error.field {
            case nil: APIError(.badRequest, "invalid_request", error.message)
            // The key travels in a header; name it as the client sent it.
            case "idempotency_key": APIError.invalid("Idempotency-Key", "invalid_idempotency_key", error.message)
            case let field?: APIError.invalid(field, "invalid_\(field)", error.message)
            }
        case .databaseUnavailable:
            APIError(.serviceUnavailable, "database_unavailable", "PostgreSQL is unavailable; try again shortly", headers: [.retryAfter: "5"])
        default: APIError(.internalServerError, "internal_error", "the request could not be completed")
        }
    }
}

/// JSON responses.
enum JSON {
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }
}
