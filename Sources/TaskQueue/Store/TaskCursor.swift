import Foundation

/// Opaque pagination position: the last task's id. Task ids are time-ordered (UUIDv7, made by
/// the enqueuing process), so id order is creation order and one index serves every listing.
struct TaskCursor {
    var id: UUID

    var encoded: String { Data(id.postgresText.utf8).base64EncodedString() }

    init(id: UUID) {
        self.id = id
    }

    init?(encoded: String) {
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else { return nil }
        // Cursors from before id ordering were "<created_at micros>:<id>"; the id alone still
        // names the position.
        let idText = text.split(separator: ":", maxSplits: 1).last.map(String.init) ?? text
        guard let id = UUID(canonicalText: idText) else { return nil }
        self.id = id
    }
}
