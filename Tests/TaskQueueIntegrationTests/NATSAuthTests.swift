import Foundation
import Testing

@testable import TaskQueue

/// Credentials in the URL, against nats-server instances started here with auth turned on.
@Suite("NATS credentials")
struct NATSAuthTests {
    /// A private nats-server on a spare loopback port, stopped when the test ends.
    final class AuthServer {
        let port: Int
        let process = Process()
        let folder: URL

        init(arguments: [String]) throws {
            port = Int.random(in: 20_000...29_999)
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("taskflow-auth-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let binary =
                ProcessInfo.processInfo.environment["NATS_SERVER_BIN"]
                ?? ["/usr/bin/nats-server", "/usr/local/bin/nats-server", "/usr/sbin/nats-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
            process.executableURL = URL(fileURLWithPath: try #require(binary, "nats-server is not installed"))
            process.arguments = ["-a", "127.0.0.1", "-p", "\(port)", "-js", "-sd", folder.path] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func waitUntilListening() async throws {
            for _ in 0..<100 {
                let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                close(socket)
                if connected == 0 { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("nats-server did not start on port \(port)")
        }

        deinit {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    private func canReadStreams(_ url: String) async -> Result<Void, any Error> {
        do {
            let inspector = try JetStreamInspector(configuration: NATSConfiguration(url: url, connectionName: "auth-test"))
            _ = try await inspector.stream("ANY")
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    @Test func userAndPasswordFromTheURL() async throws {
        let server = try AuthServer(arguments: ["--user", "taskflow", "--pass", "s3cret"])
        try await server.waitUntilListening()
        await #expect(throws: Never.self) { try await canReadStreams("nats://taskflow:s3cret@127.0.0.1:\(server.port)").get() }
        let wrong = await canReadStreams("nats://taskflow:wrong@127.0.0.1:\(server.port)")
        #expect(throws: TaskQueueError.self) { try wrong.get() }
        let none = await canReadStreams("nats://127.0.0.1:\(server.port)")
        #expect(throws: TaskQueueError.self) { try none.get() }
    }

    @Test func tokenFromTheURL() async throws {
        let server = try AuthServer(arguments: ["--auth", "t0ken-42"])
        try await server.waitUntilListening()
        await #expect(throws: Never.self) { try await canReadStreams("nats://t0ken-42@127.0.0.1:\(server.port)").get() }
        let wrong = await canReadStreams("nats://other@127.0.0.1:\(server.port)")
        #expect(throws: TaskQueueError.self) { try wrong.get() }
    }
}
