import ArgumentParser
import Foundation
import TaskQueue

/// Measures TaskFlow on the real stack: PostgreSQL and NATS from the environment, the release
/// `api` and `worker` processes from this program's own build folder. Prints JSON and a table.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "taskflow-bench", abstract: "Benchmark TaskFlow end to end.")

    @Flag(help: "Small sizes so every scenario finishes in about a minute (CI runs this).")
    var quick = false

    @Option(help: "Worker processes.")
    var workers = 2

    @Option(help: "Handlers per worker process.")
    var concurrency = 64

    @Option(
        help: """
            Scenarios to run, comma-separated: burndown,rest,steady,priority; the long-horizon ones \
            (history, longtx, soak: tens of minutes each) and dashboards (what 20 open dashboards \
            cost the API) run only when named.
            """)
    var scenarios = "burndown,rest,steady,priority"

    @Option(help: "history: finished tasks loaded into the database before its second pass.")
    var historyTasks = LongHorizonSizes.full.historyTasks

    @Option(help: "longtx and soak: tasks per second created through REST.")
    var rate = LongHorizonSizes.full.rate

    @Option(help: "longtx: minutes of the clean, held-transaction and after phases.")
    var longtxMinutes = LongHorizonSizes.full.longtxMinutes.map(String.init).joined(separator: ",")

    @Option(help: "soak: minutes of load.")
    var soakMinutes = LongHorizonSizes.full.soakMinutes

    @Option(help: "soak: the workers' retention of finished tasks, in seconds.")
    var soakRetention = LongHorizonSizes.full.soakRetentionSeconds

    @Option(
        help: """
            burndown: a fleet-wide concurrency limit set before the workers start, to measure what \
            limits cost the claim: on the benchmark's own type (noop) or on another type (other).
            """)
    var limit: LimitTarget?

    @Option(help: "Write the JSON results to this file too.")
    var output: String?

    enum LimitTarget: String, ExpressibleByArgument {
        case noop, other
    }

    func validate() throws {
        guard historyTasks > 0, rate > 0, soakMinutes > 0, soakRetention > 0 else {
            throw ValidationError("--history-tasks, --rate, --soak-minutes and --soak-retention must be positive")
        }
        guard let minutes = phaseMinutes, minutes.count == 3, minutes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--longtx-minutes takes three positive whole numbers, such as 5,10,5")
        }
    }

    private var phaseMinutes: [Int]? {
        let parts = longtxMinutes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) ? nil : parts.compactMap { $0 }
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let databaseURL = env["DATABASE_URL"], let natsURL = env["NATS_URL"] else {
            throw BenchError("set DATABASE_URL and NATS_URL (scripts/services.sh env prints them)")
        }
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let sizes = quick ? Sizes.quick : Sizes.full
        let probe = HTTPProbe(connections: 64)
        let run = Runner(
            databaseURL: databaseURL, natsURL: natsURL, bin: bin, sizes: sizes, workers: workers,
            concurrency: concurrency, probe: probe, limitedType: limit.map { $0 == .noop ? "noop" : "bench.other" },
            long: LongHorizonSizes(
                historyTasks: historyTasks, historyBurndownTasks: LongHorizonSizes.full.historyBurndownTasks, rate: rate,
                longtxMinutes: phaseMinutes ?? LongHorizonSizes.full.longtxMinutes, soakMinutes: soakMinutes,
                soakRetentionSeconds: soakRetention))
        var results = Results(quick: quick, workers: workers, concurrency: concurrency)
        let selected = Set(scenarios.split(separator: ",").map(String.init))
        do {
            if selected.contains("burndown") { results.burndown = try await run.burndown() }
            if selected.contains("rest") { results.rest = try await run.restCreate() }
            if selected.contains("steady") { results.steady = try await run.steady() }
            if selected.contains("priority") { results.priority = try await run.priority() }
            if selected.contains("history") { results.history = try await run.history() }
            if selected.contains("longtx") { results.longTransaction = try await run.longTransaction() }
            if selected.contains("soak") { results.soak = try await run.soak() }
            if selected.contains("dashboards") { results.dashboards = try await run.dashboards() }
        } catch {
            await probe.shutdown()
            throw error
        }
        await probe.shutdown()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(results)
        print(String(decoding: json, as: UTF8.self))
        if let output { try json.write(to: URL(fileURLWithPath: output)) }
        print("")
        print(results.markdown)
    }
}

struct Sizes {
    var burndownTasks: Int
    var restSeconds: Int
    var restClients: Int
    var steadyRate: Int
    var steadySeconds: Int
    var lowBacklog: Int
    var highTasks: Int

    static let full = Sizes(burndownTasks: 100_000, restSeconds: 20, restClients: 32, steadyRate: 500, steadySeconds: 30, lowBacklog: 100_000, highTasks: 200)
    static let quick = Sizes(burndownTasks: 5_000, restSeconds: 3, restClients: 32, steadyRate: 500, steadySeconds: 5, lowBacklog: 5_000, highTasks: 50)
}

/// Sizes of the long-horizon scenarios; `full` is what a full run uses, and each has an option.
struct LongHorizonSizes {
    /// history: finished tasks loaded for the second pass, and the burn-down run on both passes.
    var historyTasks: Int
    var historyBurndownTasks: Int
    /// longtx and soak: REST creates per second.
    var rate: Int
    /// longtx: minutes of the clean, held and after phases.
    var longtxMinutes: [Int]
    var soakMinutes: Int
    var soakRetentionSeconds: Int

    static let full = LongHorizonSizes(
        historyTasks: 10_000_000, historyBurndownTasks: 20_000, rate: 3_000, longtxMinutes: [5, 10, 5], soakMinutes: 30,
        soakRetentionSeconds: 180)
}

struct Results: Codable {
    var quick: Bool
    var workers: Int
    var concurrency: Int
    var burndown: Burndown?
    var rest: RestCreate?
    var steady: Steady?
    var priority: Priority?
    var history: History?
    var longTransaction: LongTransaction?
    var soak: Soak?
    var dashboards: Dashboards?

    struct Dashboards: Codable {
        var watchers: Int
        var idleSeconds: Int
        /// The API's CPU at idle, in percent of one core, without and with the dashboards open.
        var idleAPICPUPercent: Double
        var idleAPICPUPercentWithWatchers: Double
        /// REST creates from 8 connections, without and with the dashboards open.
        var createsPerSecond: Double
        var createsPerSecondWithWatchers: Double
        var createP50ms: Double
        var createP99ms: Double
        var createP50msWithWatchers: Double
        var createP99msWithWatchers: Double
        /// The fewest live updates one dashboard received.
        var updatesPerWatcherMin: Int
        var apiPeakRSSMB: Double?
    }

    struct Burndown: Codable {
        var tasks: Int
        var enqueuePerSecond: Double
        var processPerSecond: Double
        var workerPeakRSSMB: Double?
        /// CPU seconds by process while enqueueing, and from starting the workers to the last finish.
        var enqueueCPU: CPUUsage?
        var processCPU: CPUUsage?
    }

    struct RestCreate: Codable {
        var clients: Int
        var seconds: Int
        var requests: Int
        var errors: Int
        var requestsPerSecond: Double
        var p50ms: Double
        var p99ms: Double
        var apiPeakRSSMB: Double?
        var cpu: CPUUsage?
    }

    struct Steady: Codable {
        var rate: Int
        var seconds: Int
        var tasks: Int
        var errors: Int
        var startP50ms: Double
        var startP95ms: Double
        var startP99ms: Double
        var startMaxMs: Double
        var completeP50ms: Double
        var completeP95ms: Double
        var completeP99ms: Double
        var completeMaxMs: Double
        var apiPeakRSSMB: Double?
        var workerPeakRSSMB: Double?
    }

    struct Priority: Codable {
        var lowBacklog: Int
        var highTasks: Int
        var highStartP50ms: Double
        var highStartP99ms: Double
        var lowCompletedMeanwhile: Int
    }

    var markdown: String {
        func f(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "n/a" }
        var lines = ["| scenario | measure | value |", "|---|---|---|"]
        if let b = burndown {
            lines.append("| burn-down (\(b.tasks) no-op tasks) | batch enqueue, tasks/s | \(f(b.enqueuePerSecond)) |")
            lines.append("| | processing, tasks/s | \(f(b.processPerSecond)) |")
            if let cpu = b.enqueueCPU { lines.append("| | enqueue CPU µs per task | \(cpu.summary(per: b.tasks)) |") }
            if let cpu = b.processCPU { lines.append("| | processing CPU µs per task | \(cpu.summary(per: b.tasks)) |") }
        }
        if let r = rest {
            lines.append("| REST create (\(r.clients) clients, \(r.seconds) s) | requests/s | \(f(r.requestsPerSecond)) |")
            lines.append("| | latency p50 / p99, ms | \(f(r.p50ms)) / \(f(r.p99ms)) |")
            lines.append("| | errors | \(r.errors) |")
            if let cpu = r.cpu { lines.append("| | CPU µs per request | \(cpu.summary(per: r.requests)) |") }
        }
        if let s = steady {
            lines.append(
                "| steady \(s.rate)/s for \(s.seconds) s | enqueue→start p50 / p95 / p99 / max, ms | \(f(s.startP50ms)) / \(f(s.startP95ms)) / \(f(s.startP99ms)) / \(f(s.startMaxMs)) |"
            )
            lines.append(
                "| | enqueue→complete p50 / p95 / p99 / max, ms | \(f(s.completeP50ms)) / \(f(s.completeP95ms)) / \(f(s.completeP99ms)) / \(f(s.completeMaxMs)) |"
            )
        }
        if let p = priority {
            lines.append(
                "| priority (\(p.highTasks) high behind \(p.lowBacklog) low) | high enqueue→start p50 / p99, ms | \(f(p.highStartP50ms)) / \(f(p.highStartP99ms)) |"
            )
        }
        lines += longHorizonMarkdown
        if let d = dashboards {
            lines.append(
                "| dashboards (\(d.watchers) live overviews) | API CPU at idle, % of a core: none / open | \(f(d.idleAPICPUPercent)) / \(f(d.idleAPICPUPercentWithWatchers)) |"
            )
            lines.append(
                "| | REST creates/s (8 clients): none / open | \(f(d.createsPerSecond)) / \(f(d.createsPerSecondWithWatchers)) |")
            lines.append(
                "| | create p50 / p99, ms: none | \(f(d.createP50ms)) / \(f(d.createP99ms)) |")
            lines.append(
                "| | create p50 / p99, ms: open | \(f(d.createP50msWithWatchers)) / \(f(d.createP99msWithWatchers)) |")
            lines.append("| | updates per dashboard (fewest) | \(d.updatesPerWatcherMin) |")
        }
        let apiRSS = [rest?.apiPeakRSSMB, steady?.apiPeakRSSMB].compactMap { $0 }.max()
        let workerRSS = [burndown?.workerPeakRSSMB, steady?.workerPeakRSSMB].compactMap { $0 }.max()
        lines.append("| memory | peak RSS API / worker (concurrency \(concurrency)), MB | \(f(apiRSS)) / \(f(workerRSS)) |")
        return lines.joined(separator: "\n")
    }
}
