import Foundation

/// Results of the long-horizon scenarios (history, longtx, soak) and their rows of the table.
/// A measure with nothing to measure (no task in a minute) is left out of the JSON.
extension Results {
    struct History: Codable {
        var loadedTasks: Int
        /// Setup, not a result: loading, counting, VACUUM ANALYZE and a checkpoint.
        var loadSeconds: Double
        /// tasks and task_executions with their indexes after the load.
        var loadedMB: Double
        var burndownTasks: Int
        var emptyBurndownPerSecond: Double
        var historyBurndownPerSecond: Double
        var reads: [Read]

        /// One GET, repeated: on the empty database (one finished task) and on the history.
        struct Read: Codable {
            var path: String
            var emptyP50ms: Double
            var emptyMaxMs: Double
            /// Tasks in the answer's page, for listings.
            var emptyTasks: Int?
            var historyP50ms: Double
            var historyMaxMs: Double
            var historyTasks: Int?
        }
    }

    struct LongTransaction: Codable {
        var rate: Int
        var tasks: Int
        var errors: Int
        var heldTransactionID: String?
        var heldSeconds: Double?
        var phases: [Phase]
        var minutes: [Minute]

        struct Phase: Codable {
            var name: String
            var minutes: Int
            /// Tasks created in the phase; their enqueue→start latencies.
            var tasks: Int
            /// Tasks that finished in the phase, per second.
            var completionsPerSecond: Double
            var startP50ms: Double?
            var startP99ms: Double?
            var startMaxMs: Double?
            /// `tasks` at the phase's end, from pg_stat_user_tables, pg_table_size and pg_indexes_size.
            var liveRowsAtEnd: Int
            var deadRowsAtEnd: Int
            var tableMBAtEnd: Double?
            var indexesMBAtEnd: Double?
            /// Autovacuum and autoanalyze runs on `tasks` during the phase.
            var autovacuums: Int
            var autoanalyzes: Int
        }

        /// One minute of the run: tasks created in it and their latencies, tasks that finished
        /// in it, and the table at its end.
        struct Minute: Codable {
            var minute: Int
            var phase: String
            var tasks: Int
            var completed: Int
            var startP50ms: Double?
            var startP99ms: Double?
            var startMaxMs: Double?
            var liveRows: Int
            var deadRows: Int
            var tableMB: Double?
            var indexesMB: Double?
            var oldestTransactionSeconds: Double?
        }
    }

    struct Soak: Codable {
        var rate: Int
        var minutes: Int
        var retentionSeconds: Int
        var pruneIntervalSeconds: Int
        /// How long before each sample the minute whose latencies it reports ended (60: the
        /// minute before last; 0 when the retention is too short to keep that minute).
        var latencyWindowLagSeconds: Double
        var tasks: Int
        var errors: Int
        var failedTasks: Int
        var series: [Minute]
        var summary: Summary

        init(
            rate: Int, minutes: Int, retentionSeconds: Int, pruneIntervalSeconds: Int, latencyWindowLagSeconds: Double, tasks: Int, errors: Int,
            failedTasks: Int, series: [Minute]
        ) {
            self.rate = rate
            self.minutes = minutes
            self.retentionSeconds = retentionSeconds
            self.pruneIntervalSeconds = pruneIntervalSeconds
            self.latencyWindowLagSeconds = latencyWindowLagSeconds
            self.tasks = tasks
            self.errors = errors
            self.failedTasks = failedTasks
            self.series = series
            summary = Summary(series)
        }

        struct Minute: Codable {
            var minute: Int
            /// PostgreSQL's clock at the sample, seconds since 1970.
            var at: Double
            var liveRows: Int
            var deadRows: Int
            /// pg_total_relation_size of tasks and of task_executions, and their sum.
            var tasksMB: Double
            var executionsMB: Double
            var totalMB: Double
            /// Tasks completed since the previous sample.
            var completed: Int
            /// Tasks of the latency window, and their enqueue→start latencies.
            var latencyTasks: Int
            var startP50ms: Double?
            var startP99ms: Double?
            /// Tasks pruned so far (task_prune_stats).
            var pruned: Int
            var apiPeakRSSMB: Double?
            var workerPeakRSSMB: Double?
        }

        /// The first and the last `windowMinutes` minutes (10, or half the run when shorter).
        struct Summary: Codable {
            var windowMinutes: Int
            /// Size of tasks + task_executions over the last window: the spread is (max − min) / mean.
            var lastTotalMBMin: Double
            var lastTotalMBMax: Double
            var lastTotalMBMean: Double
            var lastTotalMBSpreadPercent: Double
            var firstCompletionsPerSecond: Double
            var lastCompletionsPerSecond: Double
            /// The mean of the window's per-minute p99s.
            var firstStartP99ms: Double?
            var lastStartP99ms: Double?

            init(_ series: [Minute]) {
                let window = max(1, min(10, series.count / 2))
                windowMinutes = window
                let first = series.prefix(window)
                let last = series.suffix(window)
                let sizes = last.map(\.totalMB)
                lastTotalMBMin = sizes.min() ?? 0
                lastTotalMBMax = sizes.max() ?? 0
                lastTotalMBMean = sizes.isEmpty ? 0 : sizes.reduce(0, +) / Double(sizes.count)
                lastTotalMBSpreadPercent = lastTotalMBMean > 0 ? 100 * (lastTotalMBMax - lastTotalMBMin) / lastTotalMBMean : 0
                func perSecond(_ minutes: ArraySlice<Minute>) -> Double {
                    minutes.isEmpty ? 0 : Double(minutes.reduce(0) { $0 + $1.completed }) / Double(60 * minutes.count)
                }
                func meanP99(_ minutes: ArraySlice<Minute>) -> Double? {
                    let values = minutes.compactMap(\.startP99ms)
                    return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
                }
                firstCompletionsPerSecond = perSecond(first)
                lastCompletionsPerSecond = perSecond(last)
                firstStartP99ms = meanP99(first)
                lastStartP99ms = meanP99(last)
            }
        }
    }

    /// The long-horizon scenarios' rows of the markdown table.
    var longHorizonMarkdown: [String] {
        func f(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "n/a" }
        var lines: [String] = []
        if let h = history {
            lines.append(
                "| history: empty (one task) → \(h.loadedTasks) finished tasks | burn-down of \(h.burndownTasks) no-op tasks, tasks/s | \(f(h.emptyBurndownPerSecond)) → \(f(h.historyBurndownPerSecond)) |"
            )
            for read in h.reads {
                lines.append(
                    "| | GET \(read.path) p50 / max, ms | \(f(read.emptyP50ms)) / \(f(read.emptyMaxMs)) → \(f(read.historyP50ms)) / \(f(read.historyMaxMs)) |")
            }
        }
        if let l = longTransaction {
            let names = l.phases.map { "\($0.name) \($0.minutes) min" }.joined(separator: ", ")
            func each(_ value: (LongTransaction.Phase) -> String) -> String { l.phases.map(value).joined(separator: " / ") }
            lines.append("| longtx \(l.rate)/s (\(names)) | completions/s per phase | \(each { f($0.completionsPerSecond) }) |")
            for phase in l.phases {
                lines.append(
                    "| | \(phase.name): enqueue→start p50 / p99 / max, ms | \(f(phase.startP50ms)) / \(f(phase.startP99ms)) / \(f(phase.startMaxMs)) |")
            }
            // Pairs per phase, phases apart by semicolons.
            func pairs(_ value: (LongTransaction.Phase) -> String) -> String { l.phases.map { "\($0.name) \(value($0))" }.joined(separator: "; ") }
            lines.append("| | tasks dead / live rows at each phase's end | \(pairs { "\($0.deadRowsAtEnd) / \($0.liveRowsAtEnd)" }) |")
            lines.append("| | tasks table / indexes MB at each phase's end | \(pairs { "\(f($0.tableMBAtEnd)) / \(f($0.indexesMBAtEnd))" }) |")
            lines.append("| | autovacuums / autoanalyzes of tasks in each phase | \(pairs { "\($0.autovacuums) / \($0.autoanalyzes)" }) |")
            lines.append("| | enqueue→start p99 per minute, ms | \(l.minutes.map { f($0.startP99ms) }.joined(separator: ", ")) |")
            lines.append("| | failed requests | \(l.errors) |")
        }
        if let s = soak {
            let window = s.summary.windowMinutes
            lines.append(
                "| soak \(s.rate)/s for \(s.minutes) min, retention \(s.retentionSeconds) s | tasks + executions MB, last \(window) min: min / max (spread) | "
                    + "\(f(s.summary.lastTotalMBMin)) / \(f(s.summary.lastTotalMBMax)) (\(f(s.summary.lastTotalMBSpreadPercent))%) |")
            lines.append(
                "| | completions/s, first / last \(window) min | \(f(s.summary.firstCompletionsPerSecond)) / \(f(s.summary.lastCompletionsPerSecond)) |")
            lines.append(
                "| | enqueue→start p99 (mean of minutes), first / last \(window) min, ms | \(f(s.summary.firstStartP99ms)) / \(f(s.summary.lastStartP99ms)) |")
            lines.append("| | tasks + executions MB per minute | \(s.series.map { String(format: "%.0f", $0.totalMB) }.joined(separator: ", ")) |")
            lines.append("| | pruned / failed tasks / failed requests | \(s.series.last?.pruned ?? 0) / \(s.failedTasks) / \(s.errors) |")
            lines.append(
                "| | peak RSS API / worker, first → last minute, MB | \(f(s.series.first?.apiPeakRSSMB)) / \(f(s.series.first?.workerPeakRSSMB)) → "
                    + "\(f(s.series.last?.apiPeakRSSMB)) / \(f(s.series.last?.workerPeakRSSMB)) |")
        }
        return lines
    }
}
