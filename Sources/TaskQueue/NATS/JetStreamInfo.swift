/// What a stream holds, as JetStream reports it.
public struct StreamSnapshot: Sendable, Codable, Equatable {
    public var name: String
    public var subjects: [String]
    public var retention: String
    public var storage: String
    public var replicas: Int
    public var messages: UInt64
    public var bytes: UInt64
    public var firstSequence: UInt64
    public var lastSequence: UInt64
    public var consumerCount: Int
    /// Name of the cluster leader, when the stream is replicated in a cluster.
    public var leader: String?
    /// The other replicas and whether they are caught up, when the stream is replicated.
    public var followers: [ReplicaSnapshot] = []
}

/// One follower replica of a clustered stream or consumer.
public struct ReplicaSnapshot: Sendable, Codable, Equatable {
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
    public var stream: String
    public var name: String
    public var filterSubject: String
    public var ackWaitSeconds: Double
    public var maxAckPending: Int
    public var maxDeliver: Int
    /// Messages not yet delivered to this consumer.
    public var pending: UInt64
    /// Delivered but not yet acknowledged.
    public var ackPending: Int
    /// Redelivered at least once and not yet acknowledged.
    public var redelivered: Int
    /// Pull requests waiting for messages.
    public var waiting: Int
    public var deliveredStreamSequence: UInt64
    public var ackFloorStreamSequence: UInt64
    /// Name of the consumer's cluster leader, when it is replicated in a cluster.
    public var leader: String? = nil
}

/// One message read from a stream without consuming it.
public struct StoredMessage: Sendable, Equatable {
    public var sequence: UInt64
    public var subject: String
    public var data: [UInt8]
}
