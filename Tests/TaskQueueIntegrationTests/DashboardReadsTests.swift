import Foundation
import Testing

@testable import TaskQueue

@Suite("What the dashboard reads: finishes over time, start latency, failure groups, bulk counts")
struct DashboardReadsTests {
    @Test func workersReportTheirTypesAndTheLastMinutesStartLatency() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let registry = try testRegistry(log)
            let worker = env.startWorker(registry, configuration: env.workerConfiguration(concurrency: 4))
            let ids = try await env.queue.enqueueBatch((0..<20).map { _ in try NewTask(type: "noop", payload: Empty()) }).map(\.task.id)
            for id in ids { try await env.waitFor(id, .completed) }
            // The next heartbeat (every 5 s) carries the starts.
            let deadline = ContinuousClock.now.advanced(by: .seconds(12))
            var latency = StartLatency()
            while latency.samples < 20, ContinuousClock.now < deadline {
                latency = try await env.queue.startLatency()
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(latency.samples == 20)
            let p50 = try #require(latency.quantile(0.5))
            let p99 = try #require(latency.quantile(0.99))
            #expect(p50 <= p99 && p99 < .seconds(10))
            let presence = try #require(try await env.queue.workers().first)
            #expect(presence.types == registry.types)

            try await worker.stop()
            // A stopped worker reports nothing, and is not summed.
            #expect(try await env.queue.workers().first?.startLatency.samples == 0)
            #expect(try await env.queue.startLatency().samples == 0)
        }
    }

    @Test func heartbeatArraysSurviveOddTypeNamesAndSparseBuckets() async throws {
        try await TestEnvironment.with { env in
            var latency = StartLatency()
            latency.record(seconds: 0.000_05)
            latency.record(seconds: 0.003)
            latency.record(seconds: 0.003)
            latency.record(seconds: 4000)
            try await env.queue.store.recordHeartbeat(
                workerID: "w", host: "h", pid: 1, version: "v", concurrency: 1, running: 0, starting: true,
                types: ["a\"b", "c\\d", "e,f", "{g}"], startLatency: latency)
            let read = try #require(try await env.queue.workers().first)
            #expect(read.types == ["a\"b", "c\\d", "e,f", "{g}"])
            #expect(read.startLatency == latency)
        }
    }

    @Test func finishesPerStepAndFailureGroupsAndBulkCountsByError() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 4))
            let done = try await env.queue.enqueueBatch((0..<6).map { _ in try NewTask(type: "noop", payload: Empty()) }).map(\.task.id)
            let failing = try await env.queue.enqueueBatch((0..<3).map { _ in try NewTask(type: "terminal", payload: Empty()) }).map(\.task.id)
            let flaky = try await env.queue.enqueue(try NewTask(type: "flaky", payload: Flaky(failures: 5), maxAttempts: 1)).task.id
            for id in done { try await env.waitFor(id, .completed) }
            for id in failing + [flaky] { try await env.waitFor(id, .failed) }
            try await worker.stop()

            // The step under way is not in the series: wait for the next step to begin.
            try await Task.sleep(for: .seconds(10))
            let series = try await env.queue.finishedSeries(window: .seconds(900), step: .seconds(10))
            #expect(series.completed.count == 90 && series.failed.count == 90)
            #expect(series.completed.reduce(0, +) == 6)
            #expect(series.failed.reduce(0, +) == 4)
            #expect((-11...1).contains(series.start.addingTimeInterval(900).timeIntervalSinceNow))

            let (groups, sampled) = try await env.queue.failureGroups()
            #expect(sampled == 4)
            #expect(groups.map(\.type) == ["terminal", "flaky"])
            #expect(groups.map(\.count) == [3, 1])
            let terminalError = try #require(groups.first?.error)

            // A group is a selection: count it, retry only it.
            let group = TaskSelection(status: .failed, type: "terminal", error: terminalError)
            #expect(try await env.queue.count(matching: group, states: [.failed]) == 3)
            #expect(try await env.queue.count(matching: TaskSelection(status: .failed), states: [.failed], cap: 2) == 2)
            #expect(try await env.queue.count(matching: TaskSelection(type: "noop"), states: [.scheduled, .queued, .retrying, .running]) == 0)
            #expect(try await env.queue.retry(matching: group) == 3)
            #expect(try await env.queue.task(flaky)?.status == .failed)
            #expect(try await env.queue.count(matching: TaskSelection(type: "terminal"), states: [.queued]) == 3)
        }
    }

    @Test func aListingCanBeBoundedByCreationTime() async throws {
        try await TestEnvironment.with { env in
            let early = try await env.queue.enqueue(try NewTask(type: "noop", payload: Empty())).task
            try await Task.sleep(for: .milliseconds(20))
            let middle = Date()
            try await Task.sleep(for: .milliseconds(20))
            let late = try await env.queue.enqueue(try NewTask(type: "noop", payload: Empty())).task
            #expect(try await env.queue.tasks(TaskQuery(createdAfter: middle)).tasks.map(\.id) == [late.id])
            #expect(try await env.queue.tasks(TaskQuery(createdBefore: middle)).tasks.map(\.id) == [early.id])
            #expect(try await env.queue.tasks(TaskQuery(type: "noop", createdAfter: middle)).tasks.map(\.id) == [late.id])
            #expect(try await env.queue.tasks(TaskQuery(createdAfter: middle, createdBefore: middle)).tasks.isEmpty)
        }
    }
}
