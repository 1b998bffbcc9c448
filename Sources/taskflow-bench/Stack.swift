import Foundation
import Logging
import TaskQueue

/// One isolated TaskFlow installation for a scenario: its own schema, stream and subjects, with
/// the real `api` and `worker` processes started from the bench's own build folder.
final class Stack: @unchecked Sendable {
    // `@unchecked Sendable`: the process list is touched only from the scenario's own task.
    let name: String
    let queue: TaskQueue
    let databaseURL: String
    let natsURL: String
    let binDirectory: URL
    let apiPort: Int
    private(set) var api: Process?
    private(set) var workers: [Process] = []

    init(name: String, databaseURL: String, natsURL: String, binDirectory: URL, apiPort: Int) async throws {
        self.name = name
        self.databaseURL = databaseURL
        self.natsURL = natsURL
        self.binDirectory = binDirectory
        self.apiPort = apiPort
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        queue = try await TaskQueue.connect(
            configuration: TaskQueueConfiguration(
                postgres: PostgresConfiguration(url: databaseURL, poolSize: 8, schema: name),
                nats: NATSConfiguration(url: natsURL, connectionName: "bench"),
                streamName: name.uppercased(), subjectPrefix: name, consumerName: name
            ), logger: logger)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        env["DATABASE_SCHEMA"] = name
        env["NATS_URL"] = natsURL
        env["NATS_STREAM_NAME"] = name.uppercased()
        env["NATS_SUBJECT_PREFIX"] = name
        env["NATS_CONSUMER_NAME"] = name
        env["LOG_LEVEL"] = "warning"
        env["LOG_FORMAT"] = "json"  // the default, as deployed
        return env
    }

    func startAPI() throws {
        var env = environment
        env["HTTP_HOST"] = "127.0.0.1"
        env["HTTP_PORT"] = "\(apiPort)"
        env["DB_POOL_SIZE"] = "16"
        api = try launch("api", env)
    }

    /// Starts `count` worker processes; `extraEnvironment` adds to or overrides their settings.
    func startWorkers(_ count: Int, concurrency: Int, extraEnvironment: [String: String] = [:]) throws {
        for index in 0..<count {
            var env = environment.merging(extraEnvironment) { _, extra in extra }
            env["WORKER_ID"] = "\(name)-worker-\(index)"
            env["WORKER_CONCURRENCY"] = "\(concurrency)"
            env["DB_POOL_SIZE"] = "8"
            workers.append(try launch("worker", env))
        }
    }

    private func launch(_ executable: String, _ env: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = binDirectory.appendingPathComponent(executable)
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(executable)-\(UUID().uuidString.prefix(4)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        return process
    }

    /// Peak resident memory (VmHWM) of a running process, in bytes.
    static func peakRSS(_ process: Process?) -> Int? {
        guard let process, process.isRunning,
            let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    var apiPeakRSS: Int? { Self.peakRSS(api) }
    var workerPeakRSS: Int? { workers.compactMap { Self.peakRSS($0) }.max() }

    func stopWorkers() async {
        for worker in workers where worker.isRunning { worker.terminate() }
        for worker in workers { await Self.wait(worker) }
        workers = []
    }

    func stopAll() async {
        await stopWorkers()
        if let api, api.isRunning {
            api.terminate()
            await Self.wait(api)
        }
        api = nil
    }

    static func wait(_ process: Process) async {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Waits until the API answers its health check.
    func waitForAPI(client: HTTPProbe) async throws {
        for _ in 0..<300 {
            if await client.healthy(port: apiPort) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the API did not start")
    }

    /// Removes the scenario's schema and streams (kept for inspection when BENCH_KEEP=1).
    func tearDown() async {
        await stopAll()
        if ProcessInfo.processInfo.environment["BENCH_KEEP"] == "1" { return }
        try? await queue.deleteStreams()
        // The name was built by the bench from [a-z0-9_] only.
        _ = try? await queue.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE")
    }

    /// Runs a query and returns the first row's columns as doubles.
    func numbers(_ sql: String) async throws -> [String: Double] {
        guard let row = try await queue.execute(sql).first else { return [:] }
        return row.compactMapValues { $0.flatMap(Double.init) }
    }

    /// Runs a query and returns every row's columns as doubles (columns that are not numbers are left out).
    func rows(_ sql: String) async throws -> [[String: Double]] {
        try await queue.execute(sql).map { $0.compactMapValues { $0.flatMap(Double.init) } }
    }

    /// PostgreSQL's clock now, in seconds since 1970: the scenarios' windows are cut on the clock
    /// that stamps `created_at` and `finished_at`.
    func databaseTime() async throws -> Double {
        guard let now = try await numbers("SELECT extract(epoch FROM clock_timestamp()) AS now")["now"] else {
            throw BenchError("PostgreSQL did not say what time it is")
        }
        return now
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
