import Foundation
import TaskQueue

/// The history scenario: the API's reads and a burn-down, first on an empty database, then on one
/// holding a month of finished tasks (as a deployment that keeps them for 30 days does).
extension Runner {
    /// The type mix of the loaded history: a few common types and one rare one (0.01%).
    static let historyTypes: [(type: String, share: Double)] = [
        ("rare.audit", 0.0001), ("email.send", 0.40), ("image.resize", 0.25), ("report.build", 0.15), ("webhook.deliver", 0.1999),
    ]

    /// The priority mix: mostly normal. A priority this build does not know is left out, so the
    /// loader fits the schema it runs against.
    static let historyPriorityShares: [String: Double] = ["critical": 0.01, "high": 0.09, "low": 0.10]

    /// Reads repeated per path; the table shows their median and maximum.
    static let historyReadRepeats = 7

    func history() async throws -> Results.History {
        let burndownTasks = long.historyBurndownTasks
        let empty = try await withStack("hist_empty", port: 18904) { stack in
            log("history: empty database")
            try stack.startAPI()
            try await stack.waitForAPI(client: probe)
            try stack.startWorkers(workers, concurrency: concurrency, extraEnvironment: Self.keepFinishedTasks)
            // The reads of one task and of a deep page need a task: one no-op, run to completion.
            let task = try await stack.queue.enqueue(NewTask(type: "noop", payloadJSON: "{}")).task.id
            try await waitUntil("the first task to finish", timeout: .seconds(60)) {
                try await count(stack, "status = 'completed'") == 1
            }
            return try await historyPass(stack, target: task)
        }
        let loaded = try await withStack("hist_full", port: 18905) { stack in
            let load = try await loadHistory(stack)
            try stack.startAPI()
            try await stack.waitForAPI(client: probe)
            try stack.startWorkers(workers, concurrency: concurrency, extraEnvironment: Self.keepFinishedTasks)
            var pass = try await historyPass(stack, target: load.middle)
            pass.load = load
            return pass
        }
        let reads = zip(empty.reads, loaded.reads).map { empty, loaded in
            Results.History.Read(
                path: empty.path, emptyP50ms: empty.p50ms, emptyMaxMs: empty.maxMs, emptyTasks: empty.tasks,
                historyP50ms: loaded.p50ms, historyMaxMs: loaded.maxMs, historyTasks: loaded.tasks)
        }
        return Results.History(
            loadedTasks: long.historyTasks, loadSeconds: loaded.load?.seconds ?? 0, loadedMB: loaded.load?.megabytes ?? 0,
            burndownTasks: burndownTasks, emptyBurndownPerSecond: empty.burndownPerSecond,
            historyBurndownPerSecond: loaded.burndownPerSecond, reads: reads)
    }

    /// What one pass measured.
    struct HistoryPass {
        struct Read {
            var path: String
            var p50ms: Double
            var maxMs: Double
            /// Tasks in the first answer's page (nil for answers that are not a page).
            var tasks: Int?
        }
        var reads: [Read]
        var burndownPerSecond: Double
        var load: HistoryLoad?
    }

    struct HistoryLoad {
        var seconds: Double
        var megabytes: Double
        /// A completed task from the middle of the history.
        var middle: UUID
    }

    /// The read set (each path `historyReadRepeats` times, one after another, every answer a 200),
    /// then a burn-down of no-op tasks queued while the workers were stopped.
    private func historyPass(_ stack: Stack, target: UUID) async throws -> HistoryPass {
        let id = target.uuidString.lowercased()
        // The API's cursor is the base64 of the last listed id (Store/TaskCursor.swift); any
        // base64 character other than a letter or digit is escaped in the query.
        let cursor = Data(id.utf8).base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        var paths: [(label: String, path: String)] = [("/api/v1/stats", "/api/v1/stats"), ("/api/v1/tasks", "/api/v1/tasks")]
        for status in ["queued", "running", "completed", "failed", "cancelled"] {
            paths.append(("/api/v1/tasks?status=\(status)", "/api/v1/tasks?status=\(status)"))
        }
        var queries = ["type=email.send", "type=rare.audit"]
        // A priority this build does not have would be answered 400.
        queries += ["critical", "low"].filter { TaskPriority(rawValue: $0) != nil }.map { "priority=\($0)" }
        queries += [
            "status=completed&type=email.send", "status=failed&type=rare.audit", "status=completed&priority=high",
            "type=email.send&priority=low",
        ]
        paths += queries.map { ("/api/v1/tasks?\($0)", "/api/v1/tasks?\($0)") }
        paths.append(("/api/v1/tasks?cursor=(middle)", "/api/v1/tasks?cursor=\(cursor)"))
        paths.append(("/api/v1/tasks?status=completed&cursor=(middle)", "/api/v1/tasks?status=completed&cursor=\(cursor)"))
        paths.append(("/api/v1/tasks/{id}", "/api/v1/tasks/\(id)"))
        paths.append(("/api/v1/tasks/{id}/executions", "/api/v1/tasks/\(id)/executions"))

        var reads: [HistoryPass.Read] = []
        for (label, path) in paths {
            var latencies: [Double] = []
            var tasks: Int?
            for round in 0..<Self.historyReadRepeats {
                let answer = try await probe.get(port: stack.apiPort, path: path)
                guard answer.status == 200 else {
                    throw BenchError("history: GET \(path) answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
                }
                latencies.append(answer.milliseconds)
                if round == 0 {
                    tasks = ((try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any])?["tasks"].flatMap { ($0 as? [Any])?.count }
                }
            }
            latencies.sort()
            let read = HistoryPass.Read(path: label, p50ms: percentile(latencies, 0.5), maxMs: latencies.last ?? .nan, tasks: tasks)
            log("history: GET \(label): p50 \(String(format: "%.1f", read.p50ms)) ms, max \(String(format: "%.1f", read.maxMs)) ms")
            reads.append(read)
        }

        // The burn-down, as `burndown()` runs it: the backlog first, then the workers.
        await stack.stopWorkers()
        let total = long.historyBurndownTasks
        log("history: burn-down of \(total) no-op tasks")
        let mark = try await stack.databaseTime()
        for offset in stride(from: 0, to: total, by: 10_000) {
            let tasks = (offset..<min(offset + 10_000, total)).map { _ in NewTask(type: "noop", payloadJSON: "{}") }
            _ = try await stack.queue.enqueueBatch(tasks)
        }
        try stack.startWorkers(workers, concurrency: concurrency, extraEnvironment: Self.keepFinishedTasks)
        try await waitUntil("the history burn-down to finish", timeout: .seconds(900)) {
            try await drained(stack)
        }
        await stack.stopWorkers()
        let window = try await stack.numbers(
            """
            SELECT extract(epoch FROM max(t.finished_at) - min(e.started_at)) AS seconds,
                   count(*) FILTER (WHERE e.status = 'succeeded') AS succeeded, count(*) AS executions
            FROM tasks t JOIN task_executions e ON e.task_id = t.id
            WHERE \(Self.createdBetween(mark, mark + 86_400))
            """)
        guard Int(window["succeeded"] ?? 0) == total, Int(window["executions"] ?? 0) == total else {
            throw BenchError("history: burn-down: \(window) executions for \(total) tasks")
        }
        let perSecond = Double(total) / (window["seconds"] ?? .infinity)
        log("history: burn-down \(String(format: "%.0f", perSecond)) tasks/s")
        return HistoryPass(reads: reads, burndownPerSecond: perSecond)
    }

    /// Loads `long.historyTasks` finished tasks by SQL: time-ordered ids spread over the 30 days
    /// before the last ten minutes, oldest first, a million rows per statement (a task row and
    /// its execution row in one statement); then counts, VACUUM ANALYZE and a checkpoint, so the
    /// reads see a settled table rather than the load's write-back.
    private func loadHistory(_ stack: Stack) async throws -> HistoryLoad {
        let total = long.historyTasks
        let clock = ContinuousClock()
        let started = clock.now
        let span: Int64 = 30 * 86_400_000
        let startMs = Int64((try await stack.databaseTime() - 600) * 1000) - span
        log("history: loading \(total) finished tasks over 30 days")
        let chunk = 1_000_000
        for offset in stride(from: 0, to: total, by: chunk) {
            let end = min(offset + chunk, total)
            let counts = try await stack.numbers(Self.historyInsertSQL(startMs: startMs, spanMs: span, total: total, from: offset, to: end))
            guard Int(counts["tasks"] ?? 0) == end - offset else { throw BenchError("history: loaded \(counts) of \(end - offset) tasks") }
            log("history: \(end) of \(total) loaded (\(String(format: "%.0f", (clock.now - started).seconds)) s)")
        }
        // Rows loaded behind the finishing statements' back are not in the kept counts.
        try await stack.queue.recountFinishedTasks()
        log("history: finished tasks counted")
        try await stack.queue.execute("VACUUM ANALYZE tasks, task_executions")
        _ = try? await stack.queue.execute("CHECKPOINT")
        let seconds = (clock.now - started).seconds
        let mid = startMs + span / 2
        let sizes = try await stack.numbers(
            "SELECT pg_total_relation_size('tasks') + pg_total_relation_size('task_executions') AS bytes")
        let rows = try await stack.queue.execute(
            "SELECT id::text AS id FROM tasks WHERE id >= \(Self.idBound(epochSeconds: Double(mid) / 1000)) AND status = 'completed' ORDER BY id LIMIT 1")
        guard let text = rows.first?["id"] ?? nil, let middle = UUID(uuidString: text) else {
            throw BenchError("history: no completed task in the middle of the history")
        }
        let megabytes = (sizes["bytes"] ?? 0) / 1_048_576
        log("history: loaded in \(String(format: "%.0f", seconds)) s (setup, not a result); tasks and executions \(String(format: "%.0f", megabytes)) MB")
        return HistoryLoad(seconds: seconds, megabytes: megabytes, middle: middle)
    }

    /// One chunk of history, rows `from..<to` of `total`: row i is created at
    /// `startMs + i × spanMs / total`, so ids (UUIDv7: 48 bits of milliseconds, version 7,
    /// random bits with the RFC 9562 variant) rise with `created_at`. About 97% completed, 2%
    /// failed (already dead-lettered, as the reconciler leaves them), 1% cancelled while queued
    /// (no attempt, no execution row).
    static func historyInsertSQL(startMs: Int64, spanMs: Int64, total: Int, from: Int, to: Int) -> String {
        var cumulative = 0.0
        let typeCase = historyTypes.dropLast().map { type, share in
            cumulative += share
            return "WHEN type_draw < \(cumulative) THEN '\(type)'"
        }.joined(separator: " ")
        cumulative = 0
        let priorityCase = TaskPriority.allCases.compactMap { priority -> String? in
            guard let share = historyPriorityShares[priority.rawValue] else { return nil }
            cumulative += share
            return "WHEN priority_draw < \(cumulative) THEN '\(priority.rawValue)'"
        }.joined(separator: " ")
        let failure = "'history: the handler gave up'"
        return """
            WITH drawn AS (
                SELECT \(startMs)::bigint + (i * \(spanMs)::bigint) / \(total)::bigint AS ms,
                       random() AS state_draw, random() AS priority_draw, random() AS type_draw,
                       md5(i::text || random()::text) AS bits, substr('89ab', 1 + floor(random() * 4)::int, 1) AS variant,
                       5 + random() * 45 AS wait_ms, 1 + random() * 199 AS run_ms
                FROM generate_series(\(from)::bigint, \(to - 1)::bigint) AS i
            ), shaped AS (
                SELECT (lpad(to_hex(ms), 12, '0') || '7' || substr(bits, 1, 3) || variant || substr(bits, 4, 15))::uuid AS id,
                       to_timestamp(ms / 1000.0) AS created_at,
                       CASE WHEN state_draw < 0.97 THEN 'completed' WHEN state_draw < 0.99 THEN 'failed' ELSE 'cancelled' END AS status,
                       CASE \(priorityCase) ELSE 'normal' END AS priority,
                       CASE \(typeCase) ELSE '\(historyTypes.last!.type)' END AS type,
                       wait_ms, run_ms
                FROM drawn
            ), timed AS (
                SELECT id, type, priority, status, created_at,
                       CASE WHEN status <> 'cancelled' THEN created_at + wait_ms * interval '1 millisecond' END AS started_at,
                       CASE WHEN status <> 'cancelled' THEN created_at + (wait_ms + run_ms) * interval '1 millisecond'
                            ELSE created_at + wait_ms * interval '1 second' END AS finished_at
                FROM shaped
            ), inserted AS (
                INSERT INTO tasks (id, type, payload, priority, status, attempts, max_attempts, run_at, last_error, published_at,
                                   dead_lettered_at, version, created_at, updated_at, started_at, attempt_started_at, finished_at)
                SELECT id, type, '{}'::jsonb, priority, status, CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END, 3, created_at,
                       CASE WHEN status = 'failed' THEN \(failure) END, started_at,
                       CASE WHEN status = 'failed' THEN finished_at END, CASE WHEN status = 'cancelled' THEN 1 ELSE 2 END,
                       created_at, finished_at, started_at, started_at, finished_at
                FROM timed
                RETURNING id, status, started_at, finished_at
            ), executions AS (
                INSERT INTO task_executions (task_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms)
                SELECT id, 1, CASE WHEN status = 'completed' THEN 'succeeded' ELSE 'failed' END,
                       CASE WHEN status = 'failed' THEN \(failure) END, 'history-worker-' || (get_byte(uuid_send(id), 15) % 4),
                       started_at, finished_at, extract(epoch FROM finished_at - started_at) * 1000
                FROM inserted WHERE status <> 'cancelled'
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM inserted) AS tasks, (SELECT count(*) FROM executions) AS executions
            """
    }
}
