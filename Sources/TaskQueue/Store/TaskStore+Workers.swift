import Foundation

/// The workers' own rows (migration 014): heartbeats, and the fleet as the dashboard reads it.
extension TaskStore {
    /// Records a worker's heartbeat: inserts its row (a worker starting again under the same id
    /// starts afresh) or updates it, and deletes rows of workers not heard from for a day.
    func recordHeartbeat(
        workerID: String, host: String, pid: Int, version: String, concurrency: Int, running: Int, starting: Bool,
        types: [String] = [], startLatency: StartLatency = StartLatency()
    ) async throws {
        try await pool.withSession { session in
            try session.execute(
                """
                WITH forgotten AS (DELETE FROM workers WHERE heartbeat_at < now() - interval '1 day' AND id <> $1)
                INSERT INTO workers AS w (id, host, pid, version, concurrency, running, types, start_latency)
                VALUES ($1, $2, $3::int, $4, $5::int, $6::int, $8::text[], $9::int[])
                ON CONFLICT (id) DO UPDATE
                    SET host = excluded.host, pid = excluded.pid, version = excluded.version, concurrency = excluded.concurrency,
                        running = excluded.running, heartbeat_at = now(), stopped_at = NULL, types = excluded.types,
                        start_latency = excluded.start_latency, started_at = CASE WHEN $7::bool THEN now() ELSE w.started_at END
                """,
                [
                    workerID, host, pid, version, concurrency, running, starting ? "true" : "false", Self.arrayLiteral(types),
                    Self.arrayLiteral(Self.trimmed(startLatency.buckets).map(String.init)),
                ])
        }
    }

    /// Records that a worker stopped cleanly.
    func recordStopped(workerID: String) async throws {
        try await pool.withSession { session in
            try session.execute(
                "UPDATE workers SET stopped_at = now(), running = 0, heartbeat_at = now(), start_latency = '{}' WHERE id = $1", [workerID])
        }
    }

    /// Every worker recorded, online ones first, then by id; `goneAfter` is how old a heartbeat
    /// may be for its worker to count as online.
    func workers(goneAfter: Duration) async throws -> [WorkerPresence] {
        let rows = try await pool.withSession { session in
            try session.execute(
                """
                SELECT id, host, pid, version, concurrency, running, started_at, heartbeat_at, stopped_at,
                       array_to_json(types)::text AS types, array_to_json(start_latency)::text AS start_latency,
                       (stopped_at IS NULL AND heartbeat_at > now() - $1 * interval '1 millisecond')::int AS online
                FROM workers ORDER BY online DESC, id
                """, [Int(goneAfter.milliseconds)])
        }
        return try rows.rows.map { row in
            WorkerPresence(
                id: try row.string("id"), host: try row.string("host"), pid: try row.int("pid"), version: try row.string("version"),
                concurrency: try row.int("concurrency"), running: try row.int("running"), startedAt: try row.date("started_at"),
                heartbeatAt: try row.date("heartbeat_at"), stoppedAt: try row.optionalDate("stopped_at"), isOnline: try row.int("online") == 1,
                types: (try? JSONDecoder().decode([String].self, from: Data(try row.string("types").utf8))) ?? [],
                startLatency: StartLatency(buckets: (try? JSONDecoder().decode([Int].self, from: Data(try row.string("start_latency").utf8))) ?? []))
        }
    }

    /// A PostgreSQL array literal of `values`, each quoted.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",")
            + "}"
    }

    /// `counts` without its trailing zeros.
    static func trimmed(_ counts: [Int]) -> [Int] {
        Array(counts.prefix((counts.lastIndex { $0 != 0 } ?? -1) + 1))
    }
}
