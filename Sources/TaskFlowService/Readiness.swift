import Hummingbird
import TaskQueue

/// Whether PostgreSQL and NATS answer: the one answer of the API's `/api/v1/ready` and the
/// worker's `/health`, so probes and dashboards read both the same way.
public struct Readiness: Sendable, Equatable {
    public var postgresql: Bool
    public var nats: Bool

    public init(postgresql: Bool, nats: Bool) {
        self.postgresql = postgresql
        self.nats = nats
    }

    /// Pings PostgreSQL and reads the NATS connection's state.
    public static func check(_ queue: TaskQueue) async -> Readiness {
        var postgresOK = true
        do {
            try await queue.pingDatabase()
        } catch {
            postgresOK = false
        }
        return Readiness(postgresql: postgresOK, nats: queue.natsConnected)
    }

    /// Both dependencies answer.
    public var isReady: Bool { postgresql && nats }

    /// `{"status":"ready","checks":{"nats":"ok","postgresql":"ok"}}`, with `unavailable` for the
    /// status and for each check that failed (the `Ready` schema of the API's OpenAPI document).
    /// Written by hand: every value is one of four fixed words.
    public var body: String {
        func word(_ ok: Bool) -> String { ok ? "ok" : "unavailable" }
        return #"{"status":"\#(isReady ? "ready" : "unavailable")","checks":{"nats":"\#(word(nats))","postgresql":"\#(word(postgresql))"}}"#
    }

    /// The body as JSON: 200 when ready, 503 when not.
    public var response: Response {
        Response(
            status: isReady ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body))
        )
    }
}
