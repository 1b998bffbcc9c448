import Foundation
import Testing

@testable import TaskQueue

@Suite("Workers record themselves: started, heartbeats with what they run, stopped")
struct WorkerPresenceTests {
    @Test func aWorkerIsOnlineWhileItRunsAndStoppedAfter() async throws {
        try await TestEnvironment.with { env in
            #expect(try await env.queue.workers().isEmpty)
            let log = RunLog()
            let id = "presence-\(UUID().uuidString.prefix(6))"
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(id: id, concurrency: 3))
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            while try await env.queue.workers().isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let online = try #require(try await env.queue.workers().first)
            #expect(online.id == id && online.isOnline && online.stoppedAt == nil)
            #expect(online.concurrency == 3)
            #expect(online.version == TaskQueue.version)
            #expect(online.host == ProcessInfo.processInfo.hostName)
            #expect(online.pid == Int(ProcessInfo.processInfo.processIdentifier))

            try await worker.stop()
            let stopped = try #require(try await env.queue.workers().first)
            #expect(!stopped.isOnline)
            #expect(stopped.stoppedAt != nil)
            #expect(stopped.startedAt == online.startedAt)
        }
    }

    @Test func aWorkerNotHeardFromForThreeIntervalsIsGone() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.store.recordHeartbeat(
                workerID: "silent", host: "h", pid: 1, version: "v", concurrency: 2, running: 1, starting: true)
            #expect(try await env.queue.workers().map(\.isOnline) == [true])
            _ = try await env.queue.pool.withSession { session in
                try session.execute("UPDATE workers SET heartbeat_at = now() - interval '16 seconds' WHERE id = 'silent'")
            }
            let gone = try #require(try await env.queue.workers().first)
            #expect(!gone.isOnline && gone.stoppedAt == nil && gone.running == 1)
        }
    }
}
