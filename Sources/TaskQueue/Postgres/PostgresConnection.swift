import CLibPQ
import Dispatch
import Foundation

/// One libpq connection. Every blocking libpq call runs on the connection's own serial queue,
/// never on Swift's cooperative pool.
///
/// `@unchecked Sendable`: the `PGconn` handle is only touched from `queue`, which serialises
/// all access; the pool hands a connection to one task at a time.
final class PostgresConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// Statements prepared on the current session; a new session starts with none.
    private var prepared = PreparedStatements()
    private let conninfo: String
    private let searchPath: String?
    private let queue: DispatchQueue

    init(conninfo: String, searchPath: String?, label: String) {
        self.conninfo = conninfo
        self.searchPath = searchPath
        self.queue = DispatchQueue(label: label)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    @discardableResult
    /// Runs `body` on the connection's queue with a live session, reconnecting first if needed.
    func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let session = try self.liveSession()
                    continuation.resume(returning: try body(session))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// An idle session receives nothing unless the server is going away (a restart or a terminated
    /// backend sends its FATAL notice and closes). Checking the socket without blocking replaces
    /// such a session before a statement is sent, instead of failing one caller's request.
    private static func hasUnsolicitedInput(_ handle: OpaquePointer) -> Bool {
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private func liveSession() throws -> PostgresSession {
        if let handle, PQstatus(handle) == CONNECTION_OK, !Self.hasUnsolicitedInput(handle) {
            return PostgresSession(handle: handle, prepared: prepared)
        }
        if let handle {
            // The server restarted or the socket broke: start a new session.
            PQfinish(handle)
            self.handle = nil
        }
        guard let fresh = PQconnectdb(conninfo) else {
            throw TaskQueueError(.databaseUnavailable, "libpq could not allocate a connection")
        }
        guard PQstatus(fresh) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(fresh)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(fresh)
            throw TaskQueueError(.databaseUnavailable, "cannot connect to PostgreSQL: \(message)")
        }
        // Server notices (e.g. "drop cascades to ...") are not errors; keep them off stderr.
        PQsetNoticeProcessor(fresh, { _, _ in }, nil)
        handle = fresh
        prepared = PreparedStatements()
        let session = PostgresSession(handle: fresh, prepared: prepared)
        _ = try session.execute("SET TIME ZONE 'UTC'")
        // Every TaskFlow statement is prepared once per session and meant to reach its rows
        // through an index. Three settings keep it so:
        // - Generic plans always: the batch statements took ~1 ms to plan for a few rows each,
        //   more than they took to run. No statement's best plan depends on its parameter values
        //   (optional filters get a statement text of their own), but for listings, which are
        //   planned for their values (`execute(_:_:planEachTime:)`).
        // - No sequential scans: a generic plan is made from the table's size at the time, and on
        //   a new or emptied tasks table that is a sequential scan, kept until the next ANALYZE.
        //   At 15,000 rows such a claim took 28 ms instead of well under one.
        // - No JIT compilation: with sequential scans priced out, a scan of a table that has no
        //   index (task_count_deltas, read whole by design) is costed far above jit_above_cost,
        //   and compiling it took a quarter of a second each time. No TaskFlow statement runs
        //   long enough for JIT to pay.
        _ = try session.execute("SET plan_cache_mode = force_generic_plan")
        _ = try session.execute("SET enable_seqscan = off")
        _ = try session.execute("SET jit = off")
        if let searchPath {
            _ = try session.execute("SELECT set_config('search_path', $1, false)", [searchPath])
        }
        return session
    }
}

/// The names of the statements prepared on one session, by SQL text. TaskFlow's statements are
/// a fixed set, so each is parsed once per session instead of on every execution; the capacity
/// only guards against a caller that builds SQL text dynamically.
final class PreparedStatements {
    static let capacity = 256
    private var names: [String: String] = [:]

    func name(for sql: String) -> String? { names[sql] }

    /// A fresh name for `sql`, or nil when the session holds as many statements as it may.
    func reserve(_ sql: String) -> String? {
        guard names.count < Self.capacity else { return nil }
        let name = "taskflow_\(names.count)"
        names[sql] = name
        return name
    }

    func forget(_ sql: String) { names[sql] = nil }
}

/// The synchronous statement interface of a connection, valid only inside `withSession`.
struct PostgresSession {
    fileprivate let handle: OpaquePointer
    fileprivate let prepared: PreparedStatements

    /// Executes one parameterised statement; values travel as text parameters, never spliced into SQL.
    /// The statement is prepared on its first use in this session and executed by name afterwards,
    /// unless `planEachTime`: then PostgreSQL plans it for the values given, every time (for reads
    /// whose best plan depends on how rare a value is, such as a listing filtered by type).
    @discardableResult
    func execute(_ sql: String, _ parameters: [PostgresEncodable?] = [], planEachTime: Bool = false) throws -> PostgresRows {
        let texts: [String?] = parameters.map { $0?.postgresText }
        if planEachTime {
            // Sessions plan generically, unnamed statements too (see where a session starts).
            try execute("SET plan_cache_mode = force_custom_plan")
            defer { _ = try? execute("SET plan_cache_mode = force_generic_plan") }
            let result = withCStrings(texts) { PQexecParams(handle, sql, Int32(texts.count), nil, $0, nil, nil, 0) }
            return try PostgresRows(consuming: result, connection: handle, sql: sql)
        }
        var name = prepared.name(for: sql)
        if name == nil, let fresh = prepared.reserve(sql) {
            do {
                _ = try PostgresRows(consuming: PQprepare(handle, fresh, sql, Int32(texts.count), nil), connection: handle, sql: sql)
                name = fresh
            } catch {
                prepared.forget(sql)
                throw error
            }
        }
        let result: OpaquePointer? = withCStrings(texts) { pointers in
            if let name {
                PQexecPrepared(handle, name, Int32(texts.count), pointers, nil, nil, 0)
            } else {
                PQexecParams(handle, sql, Int32(texts.count), nil, pointers, nil, nil, 0)
            }
        }
        return try PostgresRows(consuming: result, connection: handle, sql: sql)
    }

    /// Executes a script of several statements (simple-query protocol; no parameters), e.g. a migration.
    func executeScript(_ sql: String) throws {
        _ = try PostgresRows(consuming: PQexec(handle, sql), connection: handle, sql: sql)
    }

    /// Runs `body` inside BEGIN/COMMIT, rolling back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if PQstatus(handle) == CONNECTION_OK { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// True while the session is inside a transaction block (including a failed one).
    var inTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }
}

private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for pointer in owned { free(pointer) } }
    return owned.withUnsafeMutableBufferPointer { buffer in
        body(buffer.map { UnsafePointer($0) })
    }
}
