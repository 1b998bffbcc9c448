import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TaskQueue

/// The bench's HTTP client: keep-alive connections to the API.
struct HTTPProbe: Sendable {
    let client: HTTPClient

    init(connections: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func healthy(port: Int) async -> Bool {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/health")
        guard let response = try? await client.execute(request, timeout: .seconds(1)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 16)
        return response.status == .ok
    }

    /// POSTs one task; returns the latency in milliseconds, or nil when the API did not answer 201.
    func create(port: Int, body: String) async -> Double? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/tasks")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let started = ContinuousClock.now
        guard let response = try? await client.execute(request, timeout: .seconds(10)) else { return nil }
        _ = try? await response.body.collect(upTo: 1 << 20)
        let elapsed = ContinuousClock.now - started
        guard response.status == .created else { return nil }
        return elapsed.fractionalMilliseconds
    }

    /// GETs a path and reads the whole answer; returns the status, the body and the latency in
    /// milliseconds (request sent to last byte read).
    func get(port: Int, path: String, timeout: Duration = .seconds(300)) async throws -> (status: Int, body: Data, milliseconds: Double) {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let body = try await response.body.collect(upTo: 64 << 20)
        let elapsed = ContinuousClock.now - started
        return (Int(response.status.code), Data(body.readableBytesView), elapsed.fractionalMilliseconds)
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
