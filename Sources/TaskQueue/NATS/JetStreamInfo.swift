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
}

/// One message read from a stream without consuming it.
public struct StoredMessage: Sendable, Equatable {
    public var sequence: UInt64
    public var subject: String
    public var data: [UInt8]
}
