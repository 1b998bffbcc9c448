import Foundation

/// A fixed-size pool of libpq connections, created lazily; a connection broken by a server restart
/// reconnects on its next use, so callers see one failed call at most per outage, not a dead pool.
actor PostgresPool {
    private let configuration: PostgresConfiguration
    private var idle: [PostgresConnection] = []
    private var created = 0
    private var waiters: [CheckedContinuation<PostgresConnection, Never>] = []

    init(configuration: PostgresConfiguration) {
        self.configuration = configuration
    }

    /// Runs `body` synchronously on one pooled connection.
    @discardableResult
    func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        let connection = await acquire()
        do {
            let value = try await connection.withSession(body)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Takes a connection for several round trips (a caller's transaction); give it back with `release`.
    func acquire() async -> PostgresConnection {
        if let connection = idle.popLast() { return connection }
        if created < configuration.poolSize {
            created += 1
            return PostgresConnection(
                conninfo: configuration.url,
                searchPath: configuration.schema,
                label: "taskflow.postgres.\(created)"
            )
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func release(_ connection: PostgresConnection) {
        if waiters.isEmpty {
            idle.append(connection)
        } else {
            waiters.removeFirst().resume(returning: connection)
        }
    }
}

/// Where PostgreSQL is and how many connections to hold.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection string or `postgres://` URL; multi-host URLs with
    /// `target_session_attrs=read-write` follow a failover.
    public var url: String
    /// Connections in the pool (default 10).
    public var poolSize: Int
    /// The schema TaskFlow's tables live in (default: the server's search path). Tests use their own.
    public var schema: String?

    /// A configuration for this server; a pool size below 1 counts as 1.
    public init(url: String, poolSize: Int = 10, schema: String? = nil) {
        self.url = url
        self.poolSize = max(1, poolSize)
        self.schema = schema
    }
}
