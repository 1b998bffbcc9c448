import Foundation
import TaskQueue

/// Where the example's queue lives, read from the environment the way your application reads
/// its own settings. Only `DATABASE_URL` (required) and `NATS_URL` are used.
public enum EmailQueue {
    /// The PostgreSQL schema for TaskFlow's tables and the example's own: `signups` (written by
    /// enqueue-emails) and `sent_emails` (by email-worker). A schema of its own keeps the example
    /// apart from anything else on the same server.
    public static let schema = "email_example"

    /// The queue's configuration: TaskFlow's defaults, except for names of its own in PostgreSQL
    /// and JetStream, so the example can share servers with other TaskFlow deployments.
    public static func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> TaskQueueConfiguration {
        guard let databaseURL = environment["DATABASE_URL"], !databaseURL.isEmpty else {
            throw ConfigurationError(
                "DATABASE_URL is not set (for example postgres://user@127.0.0.1:5432/app?sslmode=disable)")
        }
        let natsURL = environment["NATS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "nats://127.0.0.1:4222"
        return TaskQueueConfiguration(
            postgres: PostgresConfiguration(url: databaseURL, poolSize: 4, schema: schema),
            nats: NATSConfiguration(url: natsURL, connectionName: "email-example"),
            streamName: "EMAIL_EXAMPLE",  // the dead-letter stream is EMAIL_EXAMPLE_DLQ
            subjectPrefix: "email_example",  // email_example.high|normal|low|dlq
            consumerName: "email-example"  // durable consumers email-example-high|normal|low
        )
    }
}

/// A setting is missing or malformed.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
