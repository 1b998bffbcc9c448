import Crypto
import Foundation
import Hummingbird

/// The dashboard's sessions: a signed, HttpOnly, SameSite=Strict cookie, and a CSRF token per
/// session that every state-changing form carries.
///
/// With `API_TOKEN` set, a session starts when someone enters one of the tokens on the login
/// page; the signing key is derived from the tokens, so every API process of a fleet accepts the
/// same sessions and rotating the tokens ends them all. Without tokens the dashboard is open (as
/// the REST API is) and a session starts on the first page; forms still need its CSRF token.
struct DashboardSessions: Sendable {
    static let cookieName = "taskflow_session"
    static let lifetime = 12 * 3600

    let tokens: [String]
    private let key: SymmetricKey

    init(tokens: [String]) {
        self.tokens = tokens
        key = SymmetricKey(data: SHA256.hash(data: Data(("taskflow.dashboard\n" + tokens.joined(separator: "\n")).utf8)))
    }

    /// Whether the dashboard asks for a token.
    var requiresLogin: Bool { !tokens.isEmpty }

    struct Session: Sendable, Equatable {
        let id: String
        let expires: Int
    }

    /// The request's session when its cookie is present, intact and not expired.
    func session(of request: Request, now: Date = Date()) -> Session? {
        guard let value = request.cookies[Self.cookieName]?.value else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let expires = Int(parts[1]), expires > Int(now.timeIntervalSince1970),
            parts[0].count == 32, parts[0].allSatisfy(\.isHexDigit),
            Self.equal(parts[2], mac("session:\(parts[0]).\(parts[1])"))
        else { return nil }
        return Session(id: parts[0], expires: expires)
    }

    /// A new session and the cookie that carries it.
    func start(now: Date = Date()) -> (Session, Cookie) {
        let id = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let session = Session(id: id, expires: Int(now.timeIntervalSince1970) + Self.lifetime)
        let value = "\(id).\(session.expires).\(mac("session:\(id).\(session.expires)"))"
        return (session, Cookie(name: Self.cookieName, value: value, maxAge: Self.lifetime, path: "/", httpOnly: true, sameSite: .strict))
    }

    /// The cookie that ends a session.
    var endCookie: Cookie {
        Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict)
    }

    /// The CSRF token of a session.
    func csrfToken(for session: Session) -> String { mac("csrf:\(session.id)") }

    /// Whether `token` is the CSRF token of `session`.
    func isValidCSRF(_ token: String?, for session: Session) -> Bool {
        guard let token else { return false }
        return Self.equal(token, csrfToken(for: session))
    }

    /// Whether `candidate` is one of the configured tokens (compared in constant time each).
    func acceptsToken(_ candidate: String) -> Bool {
        tokens.reduce(false) { found, token in Self.equal(candidate, token) || found }
    }

    private func mac(_ text: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares in constant time (see ``constantTimeEqual(_:_:)``).
    static func equal(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }
}
