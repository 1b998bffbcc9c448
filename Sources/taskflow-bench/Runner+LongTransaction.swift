import Foundation
import TaskQueue

/// The longtx scenario: a steady REST load through three phases (clean; one idle transaction
/// held open by another session; after it commits). A transaction holding an xid keeps VACUUM
/// from removing any row version that died after it began, so every claim and finish leaves dead
/// tuples in `tasks` and its indexes until it ends, and the table and its indexes grow.
extension Runner {
    static let longTransactionPhases = ["clean", "held", "after"]

    func longTransaction() async throws -> Results.LongTransaction {
        try await withStack("longtx", port: 18906) { stack in
            try stack.startAPI()
            try stack.startWorkers(workers, concurrency: concurrency)
            try await stack.waitForAPI(client: probe)
            try await Task.sleep(for: .seconds(1))
            let minutes = long.longtxMinutes
            let totalMinutes = minutes.reduce(0, +)
            let phaseNames = Self.longTransactionPhases
            log(
                "longtx: \(long.rate) tasks/s through REST for \(totalMinutes) min: "
                    + zip(phaseNames, minutes).map { "\($0) \($1) min" }.joined(separator: ", "))
            let load = OpenLoopLoad(rate: long.rate, seconds: totalMinutes * 60)
            let start = ContinuousClock.now
            let origin = try await stack.databaseTime()
            async let failures = load.run(port: stack.apiPort, json: #"{"type":"noop"}"#, start: start)
            var samples = [try await tableSample(stack, minute: 0)]
            var held: (xid: String, from: Double, to: Double)?
            do {
                var minute = 0
                for (phase, length) in zip(phaseNames, minutes) {
                    let end = minute + length
                    if phase == "held" {
                        // The library's transaction on a pooled connection of its own: it ends
                        // (COMMIT) when the body returns, and rolls back when it throws, the
                        // scenario's failure and cancellation included.
                        let (phaseSamples, xid, from) = try await stack.queue.withTransaction { transaction in
                            let row = try await transaction.execute("SELECT txid_current()::text AS xid, extract(epoch FROM clock_timestamp()) AS at")
                            let xid = (row.first?["xid"] ?? nil) ?? "?"
                            log("longtx: transaction \(xid) open, idle until minute \(end)")
                            let from = (row.first?["at"] ?? nil).flatMap(Double.init) ?? 0
                            return (try await sampleMinutes(stack, from: minute, to: end, start: start), xid, from)
                        }
                        held = (xid, from, try await stack.databaseTime())
                        log("longtx: transaction \(xid) committed")
                        samples += phaseSamples
                    } else {
                        samples += try await sampleMinutes(stack, from: minute, to: end, start: start)
                    }
                    minute = end
                }
            } catch {
                load.stop()
                _ = await failures
                throw error
            }
            let errors = await failures
            log("longtx: load done (\(errors) failed requests); waiting for the queue to drain")
            try await waitUntil("longtx tasks to finish", timeout: .seconds(1_800)) {
                try await drained(stack)
            }
            return try await longTransactionResults(
                stack, origin: origin, minutes: minutes, samples: samples, held: held, errors: errors, tasks: load.total)
        }
    }

    /// Samples `tasks`' table statistics at the end of each minute from `from` to `to` (minutes
    /// after `start`).
    private func sampleMinutes(_ stack: Stack, from: Int, to: Int, start: ContinuousClock.Instant) async throws -> [TableSample] {
        var samples: [TableSample] = []
        for minute in (from + 1)...to {
            try await Task.sleep(until: start.advanced(by: .seconds(60 * minute)))
            let sample = try await tableSample(stack, minute: minute)
            log(
                "longtx: minute \(minute): tasks live \(sample.liveRows), dead \(sample.deadRows), table \(Int(sample.tableMB)) MB, "
                    + "indexes \(Int(sample.indexesMB)) MB, oldest transaction \(Int(sample.oldestTransactionSeconds)) s")
            samples.append(sample)
        }
        return samples
    }

    /// `tasks` as PostgreSQL's statistics see it now.
    struct TableSample: Sendable {
        var minute: Int
        var at: Double
        var liveRows: Int
        var deadRows: Int
        var tableMB: Double
        var indexesMB: Double
        var autovacuums: Int
        var autoanalyzes: Int
        /// Age of the oldest transaction in this database that holds back VACUUM (an xid or a snapshot).
        var oldestTransactionSeconds: Double
    }

    private func tableSample(_ stack: Stack, minute: Int) async throws -> TableSample {
        let row = try await stack.numbers(
            """
            SELECT extract(epoch FROM clock_timestamp()) AS at, s.n_live_tup AS live, s.n_dead_tup AS dead,
                   s.autovacuum_count AS autovacuums, s.autoanalyze_count AS autoanalyzes,
                   pg_table_size('tasks') AS table_bytes, pg_indexes_size('tasks') AS index_bytes,
                   (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - a.xact_start)), 0) FROM pg_stat_activity a
                    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                      AND (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)) AS oldest
            FROM pg_stat_user_tables s WHERE s.schemaname = current_schema() AND s.relname = 'tasks'
            """)
        return TableSample(
            minute: minute, at: row["at"] ?? 0, liveRows: Int(row["live"] ?? 0), deadRows: Int(row["dead"] ?? 0),
            tableMB: (row["table_bytes"] ?? 0) / 1_048_576, indexesMB: (row["index_bytes"] ?? 0) / 1_048_576,
            autovacuums: Int(row["autovacuums"] ?? 0), autoanalyzes: Int(row["autoanalyzes"] ?? 0),
            oldestTransactionSeconds: row["oldest"] ?? 0)
    }

    /// Per phase and per minute, from the timestamps PostgreSQL recorded: tasks by the minute
    /// (or phase) they were created in, completions by the minute they finished in.
    private func longTransactionResults(
        _ stack: Stack, origin: Double, minutes: [Int], samples: [TableSample], held: (xid: String, from: Double, to: Double)?,
        errors: Int, tasks: Int
    ) async throws -> Results.LongTransaction {
        let totalMinutes = minutes.reduce(0, +)
        let ends = minutes.indices.map { origin + 60 * Double(minutes[...$0].reduce(0, +)) }
        let end = ends.last ?? origin
        // The phase of a moment: 0, 1, 2 (3 after the load ended).
        func phase(of column: String) -> String {
            "CASE WHEN \(column) < to_timestamp(\(ends[0])) THEN 0 WHEN \(column) < to_timestamp(\(ends[1])) THEN 1 "
                + "WHEN \(column) < to_timestamp(\(ends[2])) THEN 2 ELSE 3 END"
        }
        let minuteOf = { (column: String) in "least(floor((extract(epoch FROM \(column)) - \(origin)) / 60), \(totalMinutes - 1))::int" }
        let startLatency = "extract(epoch FROM e.started_at - t.created_at) * 1000"
        let started = "FROM tasks t JOIN task_executions e ON e.task_id = t.id AND e.attempt = 1 WHERE \(Self.createdBetween(origin, end + 60))"
        log("longtx: reading the results")
        let byPhase = try await stack.rows(
            """
            SELECT \(phase(of: "t.created_at")) AS phase, count(*) AS tasks, \(percentiles(startLatency, "start"))
            \(started) GROUP BY 1 ORDER BY 1
            """)
        let byMinute = try await stack.rows(
            """
            SELECT \(minuteOf("t.created_at")) AS minute, count(*) AS tasks, \(percentiles(startLatency, "start"))
            \(started) GROUP BY 1 ORDER BY 1
            """)
        let finished = try await stack.rows(
            """
            SELECT \(phase(of: "finished_at")) AS phase, \(minuteOf("finished_at")) AS minute, count(*) AS completed
            FROM tasks WHERE status = 'completed' AND finished_at >= to_timestamp(\(origin)) AND finished_at < to_timestamp(\(end))
            GROUP BY 1, 2
            """)
        func completed(_ key: String, _ value: Int) -> Int {
            finished.filter { Int($0[key] ?? -1) == value }.reduce(0) { $0 + Int($1["completed"] ?? 0) }
        }
        var phases: [Results.LongTransaction.Phase] = []
        var first = 0
        for (index, name) in Self.longTransactionPhases.enumerated() {
            let last = first + minutes[index]
            let row = byPhase.first { Int($0["phase"] ?? -1) == index } ?? [:]
            let opening = samples.first { $0.minute == first }
            let closing = samples.first { $0.minute == last }
            phases.append(
                Results.LongTransaction.Phase(
                    name: name, minutes: minutes[index], tasks: Int(row["tasks"] ?? 0),
                    completionsPerSecond: Double(completed("phase", index)) / Double(60 * minutes[index]),
                    startP50ms: row["start_p50"], startP99ms: row["start_p99"], startMaxMs: row["start_max"],
                    liveRowsAtEnd: closing?.liveRows ?? 0, deadRowsAtEnd: closing?.deadRows ?? 0, tableMBAtEnd: closing?.tableMB,
                    indexesMBAtEnd: closing?.indexesMB,
                    autovacuums: (closing?.autovacuums ?? 0) - (opening?.autovacuums ?? 0),
                    autoanalyzes: (closing?.autoanalyzes ?? 0) - (opening?.autoanalyzes ?? 0)))
            first = last
        }
        var phaseOfMinute: [String] = []
        for (name, length) in zip(Self.longTransactionPhases, minutes) { phaseOfMinute += Array(repeating: name, count: length) }
        let series = (0..<totalMinutes).map { minute in
            let row = byMinute.first { Int($0["minute"] ?? -1) == minute } ?? [:]
            let sample = samples.first { $0.minute == minute + 1 }
            return Results.LongTransaction.Minute(
                minute: minute, phase: phaseOfMinute[minute], tasks: Int(row["tasks"] ?? 0), completed: completed("minute", minute),
                startP50ms: row["start_p50"], startP99ms: row["start_p99"], startMaxMs: row["start_max"],
                liveRows: sample?.liveRows ?? 0, deadRows: sample?.deadRows ?? 0, tableMB: sample?.tableMB,
                indexesMB: sample?.indexesMB, oldestTransactionSeconds: sample?.oldestTransactionSeconds)
        }
        return Results.LongTransaction(
            rate: long.rate, tasks: tasks, errors: errors, heldTransactionID: held?.xid,
            heldSeconds: held.map { $0.to - $0.from }, phases: phases, minutes: series)
    }
}
