/// Read-only access to TaskFlow's streams: it never creates or changes a stream or consumer.
package final class JetStreamInspector: Sendable {
    let client: NATSClient

    /// Connects without waiting for an absent server: an unreachable NATS is an error at once.
    package init(configuration: NATSConfiguration) throws {
        var configuration = configuration
        configuration.retryOnFailedConnect = false
        client = try NATSClient(configuration: configuration)
    }

    init(client: NATSClient) {
        self.client = client
    }

    /// The stream, or nil when it does not exist.
    package func stream(_ name: String) async throws -> StreamSnapshot? {
        try await client.streamInfo(name)
    }

    /// The stream's consumers, by name.
    package func consumers(of stream: String) async throws -> [ConsumerSnapshot] {
        try await client.consumers(stream: stream)
    }

    /// Up to `limit` dead letters, newest first, read without consuming them. Messages that are
    /// not dead letters are skipped.
    package func deadLetters(stream: String, limit: Int) async throws -> [DeadLetter] {
        guard let info = try await client.streamInfo(stream), info.messages > 0 else { return [] }
        var letters: [DeadLetter] = []
        var sequence = info.lastSequence
        while sequence >= info.firstSequence, sequence > 0, letters.count < limit {
            if let message = try await client.message(stream: stream, sequence: sequence),
                let letter = try? DeadLetter.decode(message.data)
            {
                letters.append(letter)
            }
            sequence -= 1
        }
        return letters
    }
}
