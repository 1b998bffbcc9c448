import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One keep-alive HTTP/1.1 connection for generating load: blocking socket calls on the caller's
/// thread, two or three system calls per request.
///
/// The load generator shares the machine with the API it measures. Through AsyncHTTPClient it
/// used ~220 µs of CPU per request, a third of both cores during the REST scenario; this costs a
/// small fraction of that, so the numbers describe the API rather than the client.
final class LoadConnection {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let descriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var buffered = 0

    init(port: Int) throws {
        descriptor = try Self.connectLoopback(port: port)
        var on: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A TCP socket connected to 127.0.0.1:`port`.
    static func connectLoopback(port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "connect to port \(port): \(message)")
        }
        return descriptor
    }

    deinit { close(descriptor) }

    /// Sends one request and reads its whole response; returns the status code.
    func post(path: String, json: String) throws -> Int {
        let body = Array(json.utf8)
        var request = Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        request.append(contentsOf: body)
        try send(request)
        return try readResponse()
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// Reads until the headers and `Content-Length` bytes of body are in; keeps any bytes after.
    private func readResponse() throws -> Int {
        var headerEnd: Int?
        while true {
            if headerEnd == nil { headerEnd = findHeaderEnd() }
            if let end = headerEnd {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let statusParts = lines.first?.split(separator: " ") ?? []
                guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
                    throw Failure(description: "malformed status line: \(lines.first ?? "")")
                }
                guard let lengthLine = lines.first(where: { $0.lowercased().hasPrefix("content-length:") }),
                    let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                else { throw Failure(description: "response without Content-Length") }
                let total = end + 4 + length
                if buffered >= total {
                    buffer.withUnsafeMutableBytes { bytes in
                        let rest = buffered - total
                        if rest > 0 { memmove(bytes.baseAddress!, bytes.baseAddress! + total, rest) }
                    }
                    buffered -= total
                    return status
                }
                if total > buffer.count { buffer += [UInt8](repeating: 0, count: total - buffer.count) }
            }
            if buffered == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + buffered, $0.count - buffered, 0) }
            guard received > 0 else {
                throw Failure(description: received == 0 ? "connection closed" : "recv: \(String(cString: strerror(errno)))")
            }
            buffered += received
        }
    }

    private func findHeaderEnd() -> Int? {
        guard buffered >= 4 else { return nil }
        for index in 0...(buffered - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// Runs `body` on `count` threads of its own (blocking calls stay off Swift's cooperative pool)
/// and returns their results once all have finished.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) async -> [T] {
    await withTaskGroup(of: T.self) { group in
        for index in 0..<count {
            group.addTask {
                await withCheckedContinuation { continuation in
                    let thread = Thread { continuation.resume(returning: body(index)) }
                    thread.stackSize = 1 << 20
                    thread.start()
                }
            }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
}
