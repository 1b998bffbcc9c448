import Foundation
import TaskQueue

/// The soak scenario: a steady REST load for a long time with a short retention, so the workers'
/// pruner deletes as fast as tasks finish. Healthy means the tables stop growing once the first
/// tasks pass their retention, and throughput and latency at the end are those of the start.
extension Runner {
    func soak() async throws -> Results.Soak {
        try await withStack("soak", port: 18907) { stack in
            let retention = long.soakRetentionSeconds
            let pruneInterval = 30
            try stack.startAPI()
            try stack.startWorkers(
                workers, concurrency: concurrency,
                extraEnvironment: [
                    "TASK_RETENTION_COMPLETED": "\(retention)s", "TASK_RETENTION_FAILED": "\(retention)s",
                    "TASK_RETENTION_CANCELLED": "\(retention)s", "WORKER_PRUNE_INTERVAL": "\(pruneInterval)s",
                ])
            try await stack.waitForAPI(client: probe)
            try await Task.sleep(for: .seconds(1))
            let minutes = long.soakMinutes
            // Each minute's latencies are read from the tasks created in the minute before last,
            // whose attempts have all ended; the pruner deletes a task `retention` after it
            // finished (and up to a pass later), so that minute is still whole only when the
            // retention leaves it there. With a shorter one the last minute is read instead: a
            // task created in its last moments that has not finished yet is left out.
            let lag = retention >= 120 + pruneInterval ? 60.0 : 0
            log("soak: \(long.rate) tasks/s through REST for \(minutes) min, retention \(retention) s, pruning every \(pruneInterval) s")
            let load = OpenLoopLoad(rate: long.rate, seconds: minutes * 60)
            let start = ContinuousClock.now
            let origin = try await stack.databaseTime()
            async let failures = load.run(port: stack.apiPort, json: #"{"type":"noop"}"#, start: start)
            var series: [Results.Soak.Minute] = []
            do {
                var previous = origin
                for minute in 1...minutes {
                    try await Task.sleep(until: start.advanced(by: .seconds(60 * minute)))
                    let sample = try await soakSample(stack, minute: minute, since: previous, lag: lag)
                    previous = sample.at
                    log(
                        "soak: minute \(minute): tasks \(sample.liveRows) (dead \(sample.deadRows)), tasks+executions \(Int(sample.totalMB)) MB, "
                            + "completed \(sample.completed), start p50/p99 \(sample.startP50ms.map { String(format: "%.1f", $0) } ?? "n/a") / \(sample.startP99ms.map { String(format: "%.1f", $0) } ?? "n/a") ms, "
                            + "pruned \(sample.pruned)")
                    series.append(sample)
                }
            } catch {
                load.stop()
                _ = await failures
                throw error
            }
            let errors = await failures
            log("soak: load done (\(errors) failed requests)")
            try await waitUntil("soak tasks to finish", timeout: .seconds(600)) {
                try await drained(stack)
            }
            let failed = try await count(stack, "status = 'failed'")
            return Results.Soak(
                rate: long.rate, minutes: minutes, retentionSeconds: retention, pruneIntervalSeconds: pruneInterval,
                latencyWindowLagSeconds: lag, tasks: load.total, errors: errors, failedTasks: failed, series: series)
        }
    }

    /// One minute's sample: the tables now, what finished since `since`, and the enqueue→start
    /// latencies of the minute that ended `lag` seconds ago.
    private func soakSample(_ stack: Stack, minute: Int, since: Double, lag: Double) async throws -> Results.Soak.Minute {
        let now = try await stack.databaseTime()
        let tables = try await stack.numbers(
            """
            SELECT extract(epoch FROM clock_timestamp()) AS at, (SELECT count(*) FROM tasks) AS live,
                   (SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'tasks') AS dead,
                   pg_total_relation_size('tasks') AS tasks_bytes, pg_total_relation_size('task_executions') AS executions_bytes,
                   (SELECT count(*) FROM tasks WHERE status = 'completed' AND finished_at >= to_timestamp(\(since))
                      AND finished_at < to_timestamp(\(now))) AS completed,
                   (SELECT coalesce(sum(pruned), 0) FROM task_prune_stats) AS pruned
            """)
        let windowEnd = now - lag
        let latencies = try await stack.numbers(
            """
            SELECT count(*) AS tasks, \(percentiles("extract(epoch FROM e.started_at - t.created_at) * 1000", "start"))
            FROM tasks t JOIN task_executions e ON e.task_id = t.id AND e.attempt = 1
            WHERE \(Self.createdBetween(windowEnd - 60, windowEnd))
            """)
        let tasksMB = (tables["tasks_bytes"] ?? 0) / 1_048_576
        let executionsMB = (tables["executions_bytes"] ?? 0) / 1_048_576
        return Results.Soak.Minute(
            minute: minute, at: now, liveRows: Int(tables["live"] ?? 0), deadRows: Int(tables["dead"] ?? 0), tasksMB: tasksMB,
            executionsMB: executionsMB, totalMB: tasksMB + executionsMB, completed: Int(tables["completed"] ?? 0),
            latencyTasks: Int(latencies["tasks"] ?? 0), startP50ms: latencies["start_p50"], startP99ms: latencies["start_p99"],
            pruned: Int(tables["pruned"] ?? 0), apiPeakRSSMB: mb(stack.apiPeakRSS), workerPeakRSSMB: mb(stack.workerPeakRSS))
    }
}
