import Foundation
import Synchronization
import TaskQueue

/// The scenarios. Each one gets a fresh Stack and removes it afterwards.
struct Runner {
    let databaseURL: String
    let natsURL: String
    let bin: URL
    let sizes: Sizes
    let workers: Int
    let concurrency: Int
    let probe: HTTPProbe
    /// burndown: a type given a (generous) fleet-wide concurrency limit before the workers start.
    var limitedType: String? = nil
    /// Sizes of the long-horizon scenarios (history, longtx, soak), which `--quick` leaves alone.
    let long: LongHorizonSizes

    /// Runs a scenario on a fresh stack and always removes the stack, processes included.
    func withStack<T>(_ scenario: String, port: Int = 18900, _ body: (Stack) async throws -> T) async throws -> T {
        let name = "bench_\(scenario)_\(UUID().uuidString.prefix(6).lowercased())"
        let stack = try await Stack(name: name, databaseURL: databaseURL, natsURL: natsURL, binDirectory: bin, apiPort: port)
        do {
            let result = try await body(stack)
            await stack.tearDown()
            return result
        } catch {
            await stack.tearDown()
            throw error
        }
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data("[bench] \(message)\n".utf8))
    }

    func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            // A failed poll (say, the database restarting) is not the end of the scenario.
            if (try? await condition()) == true { return }
            // Results come from the timestamps PostgreSQL recorded, not from when a poll noticed;
            // polling gently keeps the probe's own cost out of the numbers.
            try await Task.sleep(for: .milliseconds(500))
        }
        throw BenchError("timed out waiting for \(what)")
    }

    /// True when no task is waiting or running: an index probe, cheap enough to poll.
    func drained(_ stack: Stack) async throws -> Bool {
        try await stack.numbers("SELECT (NOT EXISTS (SELECT 1 FROM tasks WHERE status IN ('scheduled', 'queued', 'running', 'retrying')))::int AS done")["done"]
            == 1
    }

    func count(_ stack: Stack, _ condition: String) async throws -> Int {
        Int(try await stack.numbers("SELECT count(*) AS n FROM tasks WHERE \(condition)")["n"] ?? 0)
    }

    func mb(_ bytes: Int?) -> Double? { bytes.map { Double($0) / 1_048_576 } }

    // MARK: 1. Burn-down

    func burndown() async throws -> Results.Burndown {
        try await withStack("burn") { stack in
            let total = sizes.burndownTasks
            log("burn-down: enqueueing \(total) no-op tasks through the batch API")
            let clock = ContinuousClock()
            let started = clock.now
            let enqueueCPU = CPUSnapshot.now()
            let chunk = 10_000
            for offset in stride(from: 0, to: total, by: chunk) {
                let tasks = (offset..<min(offset + chunk, total)).map { _ in NewTask(type: "noop", payloadJSON: "{}") }
                _ = try await stack.queue.enqueueBatch(tasks)
            }
            let enqueueSeconds = (clock.now - started).seconds
            let enqueueUsage = CPUSnapshot.now().since(enqueueCPU)
            log("burn-down: enqueue CPU µs per task: \(enqueueUsage.summary(per: total))")
            if let limitedType {
                // Far above what runs at once: the limit costs the claim its checks, never a wait.
                try await stack.queue.setLimits(TaskTypeLimits(concurrency: 100_000), for: limitedType)
                log("burn-down: \(limitedType) limited to 100,000 running at once")
            }
            log("burn-down: starting \(workers) workers × \(concurrency)")
            let processCPU = CPUSnapshot.now()
            try stack.startWorkers(workers, concurrency: concurrency)
            try await waitUntil("burn-down to finish", timeout: .seconds(900)) {
                try await drained(stack)
            }
            let processUsage = CPUSnapshot.now().since(processCPU)
            log("burn-down: processing CPU µs per task: \(processUsage.summary(per: total))")
            let rss = stack.workerPeakRSS
            await stack.stopWorkers()
            let window = try await stack.numbers(
                """
                SELECT extract(epoch FROM max(t.finished_at) - min(e.started_at)) AS seconds,
                       count(*) FILTER (WHERE e.status = 'succeeded') AS succeeded, count(*) AS executions
                FROM tasks t JOIN task_executions e ON e.task_id = t.id
                """)
            guard Int(window["succeeded"] ?? 0) == total, Int(window["executions"] ?? 0) == total else {
                throw BenchError("burn-down: \(window) executions for \(total) tasks")
            }
            return Results.Burndown(
                tasks: total, enqueuePerSecond: Double(total) / enqueueSeconds,
                processPerSecond: Double(total) / (window["seconds"] ?? .infinity), workerPeakRSSMB: mb(rss),
                enqueueCPU: enqueueUsage, processCPU: processUsage)
        }
    }

    // MARK: 2. REST create

    func restCreate() async throws -> Results.RestCreate {
        try await withStack("rest", port: 18901) { stack in
            try stack.startAPI()
            try await stack.waitForAPI(client: probe)
            log("REST create: \(sizes.restClients) clients for \(sizes.restSeconds) s")
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(sizes.restSeconds))
            let port = stack.apiPort
            let cpu = CPUSnapshot.now()
            let perClient = await onThreads(sizes.restClients) { _ -> ([Double], Int) in
                var latencies: [Double] = []
                var errors = 0
                var connection: LoadConnection?
                while clock.now < deadline {
                    let started = clock.now
                    do {
                        if connection == nil { connection = try LoadConnection(port: port) }
                        let status = try connection!.post(path: "/api/v1/tasks", json: #"{"type":"noop","payload":{"n":1}}"#)
                        if status == 201 { latencies.append((clock.now - started).fractionalMilliseconds) } else { errors += 1 }
                    } catch {
                        errors += 1
                        connection = nil
                    }
                }
                return (latencies, errors)
            }
            let latencies = perClient.flatMap(\.0)
            let errors = perClient.reduce(0) { $0 + $1.1 }
            let usage = CPUSnapshot.now().since(cpu)
            log("REST create: CPU µs per request: \(usage.summary(per: latencies.count))")
            let rss = stack.apiPeakRSS
            let sorted = latencies.sorted()
            return Results.RestCreate(
                clients: sizes.restClients, seconds: sizes.restSeconds, requests: sorted.count, errors: errors,
                requestsPerSecond: Double(sorted.count) / Double(sizes.restSeconds),
                p50ms: percentile(sorted, 0.5), p99ms: percentile(sorted, 0.99), apiPeakRSSMB: mb(rss), cpu: usage
            )
        }
    }

    // MARK: 3. Steady state

    func steady() async throws -> Results.Steady {
        try await withStack("steady", port: 18902) { stack in
            try stack.startAPI()
            try stack.startWorkers(workers, concurrency: concurrency)
            try await stack.waitForAPI(client: probe)
            try await Task.sleep(for: .seconds(1))
            let total = sizes.steadyRate * sizes.steadySeconds
            log("steady: \(sizes.steadyRate) tasks/s for \(sizes.steadySeconds) s through REST")
            // Open loop: each request leaves at its planned time, whatever the earlier ones are
            // doing, from 16 connections, enough that none has to wait its turn at this rate.
            let load = OpenLoopLoad(rate: sizes.steadyRate, seconds: sizes.steadySeconds)
            let errors = await load.run(port: stack.apiPort, json: #"{"type":"noop"}"#, start: ContinuousClock.now, threads: 16)
            try await waitUntil("steady tasks to finish", timeout: .seconds(120)) {
                try await drained(stack)
            }
            let apiRSS = stack.apiPeakRSS
            let workerRSS = stack.workerPeakRSS
            let stats = try await stack.numbers(
                """
                SELECT \(percentiles("extract(epoch FROM e.started_at - t.created_at) * 1000", "start")),
                       \(percentiles("extract(epoch FROM t.finished_at - t.created_at) * 1000", "complete"))
                FROM tasks t JOIN task_executions e ON e.task_id = t.id AND e.attempt = 1
                """)
            return Results.Steady(
                rate: sizes.steadyRate, seconds: sizes.steadySeconds, tasks: total, errors: errors,
                startP50ms: stats["start_p50"] ?? .nan, startP95ms: stats["start_p95"] ?? .nan,
                startP99ms: stats["start_p99"] ?? .nan, startMaxMs: stats["start_max"] ?? .nan,
                completeP50ms: stats["complete_p50"] ?? .nan, completeP95ms: stats["complete_p95"] ?? .nan,
                completeP99ms: stats["complete_p99"] ?? .nan, completeMaxMs: stats["complete_max"] ?? .nan,
                apiPeakRSSMB: mb(apiRSS), workerPeakRSSMB: mb(workerRSS)
            )
        }
    }

    // MARK: 4. Priority under a low backlog

    func priority() async throws -> Results.Priority {
        try await withStack("prio", port: 18903) { stack in
            log("priority: queueing \(sizes.lowBacklog) low tasks")
            for offset in stride(from: 0, to: sizes.lowBacklog, by: 5_000) {
                let tasks = (offset..<min(offset + 5_000, sizes.lowBacklog)).map { _ in
                    NewTask(type: "sleep", payloadJSON: #"{"ms":2}"#, priority: .low)
                }
                _ = try await stack.queue.enqueueBatch(tasks)
            }
            try stack.startAPI()
            try stack.startWorkers(workers, concurrency: concurrency)
            try await stack.waitForAPI(client: probe)
            try await waitUntil("low tasks to start flowing", timeout: .seconds(60)) {
                try await count(stack, "status = 'completed'") >= 500
            }
            log("priority: \(sizes.highTasks) high tasks one by one")
            for _ in 0..<sizes.highTasks {
                guard await probe.create(port: stack.apiPort, body: #"{"type":"noop","priority":"high"}"#) != nil else {
                    throw BenchError("priority: creating a high task failed")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await waitUntil("high tasks to finish", timeout: .seconds(120)) {
                try await count(stack, "status IN ('queued', 'running', 'retrying') AND priority = 'high'") == 0
            }
            let stats = try await stack.numbers(
                """
                SELECT \(percentiles("extract(epoch FROM e.started_at - t.created_at) * 1000", "start")),
                       (SELECT count(*) FROM tasks WHERE priority = 'low' AND status = 'completed') AS low_done
                FROM tasks t JOIN task_executions e ON e.task_id = t.id AND e.attempt = 1
                WHERE t.priority = 'high'
                """)
            return Results.Priority(
                lowBacklog: sizes.lowBacklog, highTasks: sizes.highTasks,
                highStartP50ms: stats["start_p50"] ?? .nan, highStartP99ms: stats["start_p99"] ?? .nan,
                lowCompletedMeanwhile: Int(stats["low_done"] ?? 0))
        }
    }

    func percentiles(_ expression: String, _ name: String) -> String {
        """
        percentile_cont(0.5) WITHIN GROUP (ORDER BY \(expression)) AS \(name)_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY \(expression)) AS \(name)_p95,
        percentile_cont(0.99) WITHIN GROUP (ORDER BY \(expression)) AS \(name)_p99,
        max(\(expression)) AS \(name)_max
        """
    }
}

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))
    return sorted[index]
}
