/// What a stream holds, as JetStream reports it.
public struct StreamSnapshot: Sendable, Codable, Equatable {
    /// The stream's name.
    public var name: String
    /// The subjects the stream takes messages from.
    public var subjects: [String]
    /// The retention policy: `workqueue`, `interest` or `limits`.
    public var retention: String
    /// Where the stream keeps its messages: `file` or `memory`.
    public var storage: String
    /// How many copies of the stream the cluster keeps.
    public var replicas: Int
    /// Messages the stream holds now.
    public var messages: UInt64
    /// Bytes the stream holds now.
    public var bytes: UInt64
    /// Sequence of the oldest message the stream holds.
    public var firstSequence: UInt64
    /// Sequence of the newest message the stream holds.
    public var lastSequence: UInt64
    /// How many consumers the stream has.
    public var consumerCount: Int
    /// Name of the cluster leader, when the stream is replicated in a cluster.
    public var leader: String?
    /// The other replicas and whether they are caught up, when the stream is replicated.
    public var followers: [ReplicaSnapshot] = []
}

/// One follower replica of a clustered stream or consumer.
public struct ReplicaSnapshot: Sendable, Codable, Equatable {
    /// The server holding the replica.
    public var name: String
    /// Caught up with the leader.
    public var current: Bool
    /// Not reachable from the leader.
    public var offline: Bool
    /// Operations behind the leader.
    public var lag: UInt64
}

/// A consumer's position and backlog.
public struct ConsumerSnapshot: Sendable, Codable, Equatable {
    /// The stream the consumer reads.
    public var stream: String
    /// The durable consumer's name.
    public var name: String
    /// The only subject it delivers (one priority's subject for TaskFlow's consumers).
    public var filterSubject: String
    /// How long a delivered message may go unacknowledged before it is redelivered, in seconds.
    public var ackWaitSeconds: Double
    /// Unacknowledged messages the consumer may have out at once.
    public var maxAckPending: Int
    /// Deliveries of one message at most (-1: no limit).
    public var maxDeliver: Int
    /// Messages not yet delivered to this consumer.
    public var pending: UInt64
    /// Delivered but not yet acknowledged.
    public var ackPending: Int
    /// Redelivered at least once and not yet acknowledged.
    public var redelivered: Int
    /// Pull requests waiting for messages.
    public var waiting: Int
    /// Stream sequence of the last message delivered to the consumer.
    public var deliveredStreamSequence: UInt64
    /// Stream sequence up to which every message is acknowledged.
    public var ackFloorStreamSequence: UInt64
    /// Name of the consumer's cluster leader, when it is replicated in a cluster.
    public var leader: String? = nil
}

/// One message read from a stream without consuming it.
struct StoredMessage: Sendable, Equatable {
    /// Its sequence in the stream.
    var sequence: UInt64
    /// The subject it was published on.
    var subject: String
    /// The message body.
    var data: [UInt8]
    /// Its headers (Nats-Msg-Id, and a traced task's trace fields).
    var headers: [String: String] = [:]
}
