import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// dashboards: what open dashboards cost the API. The API and the workers run idle, then under
/// REST creates, first with no dashboard open and then with `watchers` live overviews streaming
/// (`/dashboard/live`, server-sent events), and the API's CPU and the creates' latency are compared.
extension Runner {
    func dashboards(watchers: Int = 20) async throws -> Results.Dashboards {
        try await withStack("dash", port: 18906) { stack in
            try stack.startAPI()
            try stack.startWorkers(workers, concurrency: concurrency)
            try await stack.waitForAPI(client: probe)
            // Every worker has sent a heartbeat or two, so the overview has a fleet to read.
            try await Task.sleep(for: .seconds(6))
            let idleSeconds = sizes.restSeconds * 3 / 2
            let port = stack.apiPort

            log("dashboards: idle \(idleSeconds) s, no dashboard open")
            let idleBefore = try await apiCPU(seconds: idleSeconds)
            let createsBefore = try await creates(port: port)

            log("dashboards: \(watchers) live overviews open")
            let streams = try (0..<watchers).map { _ in try EventStreamReader(port: port, path: "/dashboard/live") }
            try await Task.sleep(for: .seconds(3))
            let idleWith = try await apiCPU(seconds: idleSeconds)
            let createsWith = try await creates(port: port)
            let events = streams.map(\.events)
            for stream in streams { stream.stop() }
            log("dashboards: each overview got \(events.min() ?? 0)-\(events.max() ?? 0) updates")
            return Results.Dashboards(
                watchers: watchers, idleSeconds: idleSeconds,
                idleAPICPUPercent: idleBefore, idleAPICPUPercentWithWatchers: idleWith,
                createsPerSecond: createsBefore.perSecond, createsPerSecondWithWatchers: createsWith.perSecond,
                createP50ms: createsBefore.p50, createP99ms: createsBefore.p99,
                createP50msWithWatchers: createsWith.p50, createP99msWithWatchers: createsWith.p99,
                updatesPerWatcherMin: events.min() ?? 0, apiPeakRSSMB: mb(stack.apiPeakRSS))
        }
    }

    /// The API's CPU over `seconds`, as a percentage of one core.
    private func apiCPU(seconds: Int) async throws -> Double {
        let before = CPUSnapshot.now()
        try await Task.sleep(for: .seconds(seconds))
        let usage = CPUSnapshot.now().since(before)
        return 100 * (usage.byGroup["api"] ?? 0) / max(usage.seconds, 0.001)
    }

    /// REST creates from 8 connections for the REST scenario's duration.
    private func creates(port: Int) async throws -> (perSecond: Double, p50: Double, p99: Double) {
        let clock = ContinuousClock()
        let seconds = sizes.restSeconds
        let deadline = clock.now.advanced(by: .seconds(seconds))
        let latencies = await onThreads(8) { _ -> [Double] in
            var latencies: [Double] = []
            var connection: LoadConnection?
            while clock.now < deadline {
                let started = clock.now
                do {
                    if connection == nil { connection = try LoadConnection(port: port) }
                    if try connection!.post(path: "/api/v1/tasks", json: #"{"type":"noop","payload":{"n":1}}"#) == 201 {
                        latencies.append((clock.now - started).fractionalMilliseconds)
                    }
                } catch {
                    connection = nil
                }
            }
            return latencies
        }.flatMap { $0 }.sorted()
        return (Double(latencies.count) / Double(seconds), percentile(latencies, 0.5), percentile(latencies, 0.99))
    }
}

/// One open `text/event-stream` response, read on a thread of its own; counts the events.
final class EventStreamReader: Sendable {
    private final class Counter: Sendable {
        let value = Mutex(0)
    }

    private let descriptor: Int32
    private let counter = Counter()

    var events: Int { counter.value.withLock { $0 } }

    init(port: Int, path: String) throws {
        let socketDescriptor = try LoadConnection.connectLoopback(port: port)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(socketDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        descriptor = socketDescriptor
        let counter = self.counter
        Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let marker = Array("event: overview".utf8)
            var carry: [UInt8] = []
            while true {
                let received = buffer.withUnsafeMutableBytes { recv(socketDescriptor, $0.baseAddress, $0.count, 0) }
                guard received > 0 else { return }
                let chunk = carry + buffer[0..<received]
                var found = 0
                var index = 0
                while index + marker.count <= chunk.count {
                    if chunk[index] == marker[0], Array(chunk[index..<index + marker.count]) == marker {
                        found += 1
                        index += marker.count
                    } else {
                        index += 1
                    }
                }
                carry = Array(chunk.suffix(marker.count - 1))
                if found > 0 { counter.value.withLock { $0 += found } }
            }
        }.start()
    }

    func stop() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    deinit { close(descriptor) }
}
