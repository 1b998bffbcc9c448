import CNATS

/// Copied out of nats.c's structures, which the caller destroys right after.
extension ConsumerSnapshot {
    init(_ info: jsConsumerInfo) {
        let config = info.Config?.pointee
        self.init(
            stream: info.Stream.map { String(cString: $0) } ?? "",
            name: info.Name.map { String(cString: $0) } ?? "",
            filterSubject: config?.FilterSubject.map { String(cString: $0) } ?? "",
            ackWaitSeconds: Double(config?.AckWait ?? 0) / 1e9,
            maxAckPending: Int(config?.MaxAckPending ?? 0),
            maxDeliver: Int(config?.MaxDeliver ?? 0),
            pending: info.NumPending,
            ackPending: Int(info.NumAckPending),
            redelivered: Int(info.NumRedelivered),
            waiting: Int(info.NumWaiting),
            deliveredStreamSequence: info.Delivered.Stream,
            ackFloorStreamSequence: info.AckFloor.Stream,
            leader: info.Cluster?.pointee.Leader.map { String(cString: $0) }
        )
    }
}

/// The consumer settings provisioning compares, copied out of nats.c.
struct ConsumerConfigCopy: Sendable {
    var filterSubject: String
    var ackWait: Int64
    var maxAckPending: Int64
    var maxDeliver: Int64
    var ackPolicy: UInt32
    var deliverPolicy: UInt32

    init(_ config: UnsafeMutablePointer<jsConsumerConfig>?) {
        filterSubject = config?.pointee.FilterSubject.map { String(cString: $0) } ?? ""
        ackWait = config?.pointee.AckWait ?? 0
        maxAckPending = config?.pointee.MaxAckPending ?? 0
        maxDeliver = config?.pointee.MaxDeliver ?? 0
        ackPolicy = config?.pointee.AckPolicy.rawValue ?? 0
        deliverPolicy = config?.pointee.DeliverPolicy.rawValue ?? 0
    }
}
