import Foundation

/// Everything a TaskQueue needs to know; defaults match the executables' documented environment.
public struct TaskQueueConfiguration: Sendable {
    /// Where PostgreSQL is, the schema and the pool size.
    public var postgres: PostgresConfiguration
    /// Where NATS is and how to authenticate.
    public var nats: NATSConfiguration
    /// The work stream (default `TASKFLOW`); the dead-letter stream is `<name>_DLQ`.
    public var streamName: String
    /// Subjects are `<prefix>.high|normal|low` and `<prefix>.dlq` (default `tasks`).
    public var subjectPrefix: String
    /// Durable consumers are `<name>-high|normal|low` (default `taskflow-worker`).
    public var consumerName: String
    /// Stream replicas (1 on a single server, 3 in a cluster).
    public var replicas: Int
    /// How long a worker owns a task without renewing: the database lease and the consumer's AckWait.
    public var lease: Duration
    /// Unacknowledged messages a consumer may have out at once.
    public var maxAckPending: Int
    /// Window in which a repeated Nats-Msg-Id is dropped by the server.
    public var duplicateWindow: Duration
    /// How long dead letters are kept (default 30 days).
    public var deadLetterRetention: Duration
    /// Attempts for a task that does not say (default 5).
    public var defaultMaxAttempts: Int
    /// Apply migrations at connect (default true).
    public var runMigrations: Bool
    /// A folder of migration files to apply instead of the ones embedded in the library; nil
    /// takes `TASKFLOW_MIGRATIONS_DIR` when set, else the embedded copy.
    public var migrationsDirectory: URL?

    /// A configuration; every argument but the servers has the default the executables use.
    public init(
        postgres: PostgresConfiguration,
        nats: NATSConfiguration,
        streamName: String = "TASKFLOW",
        subjectPrefix: String = "tasks",
        consumerName: String = "taskflow-worker",
        replicas: Int = 1,
        lease: Duration = .seconds(30),
        maxAckPending: Int = 1000,
        duplicateWindow: Duration = .seconds(120),
        deadLetterRetention: Duration = .seconds(30 * 24 * 3600),
        defaultMaxAttempts: Int = 5,
        runMigrations: Bool = true,
        migrationsDirectory: URL? = nil
    ) {
        self.postgres = postgres
        self.nats = nats
        self.streamName = streamName
        self.subjectPrefix = subjectPrefix
        self.consumerName = consumerName
        self.replicas = replicas
        self.lease = lease
        self.maxAckPending = maxAckPending
        self.duplicateWindow = duplicateWindow
        self.deadLetterRetention = deadLetterRetention
        self.defaultMaxAttempts = defaultMaxAttempts
        self.runMigrations = runMigrations
        self.migrationsDirectory = migrationsDirectory
    }

    /// The dead-letter stream's name.
    public var deadLetterStreamName: String { "\(streamName)_DLQ" }
    /// The dead-letter subject.
    public var deadLetterSubject: String { "\(subjectPrefix).dlq" }
    /// The work subject for a priority.
    public func subject(for priority: TaskPriority) -> String { "\(subjectPrefix).\(priority.rawValue)" }
    /// The durable consumer for a priority.
    public func consumer(for priority: TaskPriority) -> String { "\(consumerName)-\(priority.rawValue)" }
}
