import CNATS

/// Copied out of nats.c's structures, which the caller destroys right after.
extension StreamSnapshot {
    init(_ info: jsStreamInfo) {
        let config = info.Config?.pointee
        let subjects: [String] =
            config.map { config in
                (0..<Int(config.SubjectsLen)).compactMap { config.Subjects[$0].map { String(cString: $0) } }
            } ?? []
        self.init(
            name: config?.Name.map { String(cString: $0) } ?? "",
            subjects: subjects,
            retention: config.map { retentionName($0.Retention) } ?? "unknown",
            storage: config?.Storage == js_MemoryStorage ? "memory" : "file",
            replicas: Int(config?.Replicas ?? 1),
            messages: info.State.Msgs,
            bytes: info.State.Bytes,
            firstSequence: info.State.FirstSeq,
            lastSequence: info.State.LastSeq,
            consumerCount: Int(info.State.Consumers),
            leader: info.Cluster?.pointee.Leader.map { String(cString: $0) },
            followers: replicaSnapshots(info.Cluster)
        )
    }
}

func replicaSnapshots(_ cluster: UnsafeMutablePointer<jsClusterInfo>?) -> [ReplicaSnapshot] {
    guard let cluster = cluster?.pointee, let replicas = cluster.Replicas else { return [] }
    return (0..<Int(cluster.ReplicasLen)).compactMap { index in
        replicas[index].map { peer in
            ReplicaSnapshot(
                name: peer.pointee.Name.map { String(cString: $0) } ?? "",
                current: peer.pointee.Current, offline: peer.pointee.Offline, lag: peer.pointee.Lag)
        }
    }
}

func retentionName(_ policy: jsRetentionPolicy) -> String {
    switch policy {
    case js_WorkQueuePolicy: "workqueue"
    case js_InterestPolicy: "interest"
    default: "limits"
    }
}
