import Foundation

/// Appends the id of every task a built-in handler finished successfully to a file, one per line.
/// The failure suite counts the lines to prove that no task ran to success twice, across worker
/// processes and restarts. Each line is one `write` to a file opened with O_APPEND, so lines from
/// several processes never interleave.
public final class SuccessLog: Sendable {
    private let descriptor: Int32

    public init(path: String) throws {
        descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }

    deinit { close(descriptor) }

    public func record(_ id: UUID) {
        let line = Array("\(id.uuidString.lowercased())\n".utf8)
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
