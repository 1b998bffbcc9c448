import CNATS
import Dispatch
import Foundation
import Synchronization

/// One NATS connection with its JetStream contexts.
///
/// Teardown order matters: the JetStream contexts go before the connection, and the publish
/// tracker (the async-publish callback's context) is released only after its context is gone.
///
/// `@unchecked Sendable`: nats.c connections and JetStream contexts are thread-safe; the
/// batch-publish path, which relies on `js_PublishAsyncComplete`, is serialised on `publishQueue`.
final class NATSClient: @unchecked Sendable {
    private let connection: OpaquePointer
    /// Batch publishing has a connection of its own that buffers writes: the main one sends every
    /// protocol message at once (pull requests and acks must not wait for the flusher), which
    /// for a burst of a thousand publishes meant a thousand socket writes.
    private let batchConnection: OpaquePointer
    private let jetStream: OpaquePointer
    private let asyncJetStream: OpaquePointer
    private let tracker: Unmanaged<PublishTracker>
    private let publishQueue = DispatchQueue(label: "taskflow.nats.publish")
    private let requestQueue = DispatchQueue(label: "taskflow.nats.request", attributes: .concurrent)
    let configuration: NATSConfiguration

    /// Connects; when no server answers yet the connection keeps retrying in the background, so
    /// a process can start (and accept tasks) while NATS is down.
    init(configuration: NATSConfiguration) throws {
        self.configuration = configuration
        guard !configuration.urls.isEmpty else {
            throw TaskQueueError(.invalidArgument, "no NATS server URL given")
        }
        let connection = try Self.connect(configuration, sendAsap: true)
        let batchConnection: OpaquePointer
        do {
            batchConnection = try Self.connect(configuration, sendAsap: false)
        } catch {
            natsConnection_Destroy(connection)
            throw error
        }
        self.connection = connection
        self.batchConnection = batchConnection

        let timeoutMilliseconds = configuration.requestTimeout.milliseconds
        var jsOptions = jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = timeoutMilliseconds
        var jetStream: OpaquePointer?
        let jetStreamStatus = natsConnection_JetStream(&jetStream, connection, &jsOptions)
        guard jetStreamStatus == NATS_OK else {
            natsConnection_Destroy(batchConnection)
            natsConnection_Destroy(connection)
            throw natsError(jetStreamStatus, "create JetStream context")
        }

        let tracker = Unmanaged.passRetained(PublishTracker())
        var asyncOptions = CNATS.jsOptions()
        jsOptions_Init(&asyncOptions)
        asyncOptions.Wait = timeoutMilliseconds
        asyncOptions.PublishAsync.MaxPending = 4096
        asyncOptions.PublishAsync.AckHandler = publishAckHandler
        asyncOptions.PublishAsync.AckHandlerClosure = tracker.toOpaque()
        var asyncJetStream: OpaquePointer?
        let asyncStatus = natsConnection_JetStream(&asyncJetStream, batchConnection, &asyncOptions)
        guard asyncStatus == NATS_OK, let jetStream, let asyncJetStream else {
            tracker.release()
            jsCtx_Destroy(jetStream)
            natsConnection_Destroy(batchConnection)
            natsConnection_Destroy(connection)
            throw natsError(asyncStatus, "create JetStream context")
        }
        self.jetStream = jetStream
        self.asyncJetStream = asyncJetStream
        self.tracker = tracker
    }

    deinit {
        jsCtx_Destroy(asyncJetStream)
        jsCtx_Destroy(jetStream)
        natsConnection_Close(batchConnection)
        natsConnection_Destroy(batchConnection)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
        tracker.release()
    }

    private static func connect(_ configuration: NATSConfiguration, sendAsap: Bool) throws -> OpaquePointer {
        var options: OpaquePointer?
        try natsCheck(natsOptions_Create(&options), "create NATS options")
        defer { natsOptions_Destroy(options) }
        try apply(configuration, to: options)
        try natsCheck(natsOptions_SetSendAsap(options, sendAsap), "set send asap")
        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, options)
        guard status == NATS_OK || status == NATS_NOT_YET_CONNECTED, let connection else {
            throw natsError(status, "connect to \(configuration.urls.joined(separator: ","))")
        }
        return connection
    }

    private static func apply(_ configuration: NATSConfiguration, to options: OpaquePointer?) throws {
        var servers = configuration.urls.map { strdup($0) }
        defer { servers.forEach { free($0) } }
        let serverStatus = servers.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { rebound in
                natsOptions_SetServers(options, rebound.baseAddress, Int32(rebound.count))
            }
        }
        try natsCheck(serverStatus, "set NATS servers")
        try natsCheck(natsOptions_SetName(options, configuration.connectionName), "set connection name")
        try natsCheck(natsOptions_SetNoRandomize(options, false), "set server order")
        try natsCheck(natsOptions_SetMaxReconnect(options, -1), "set reconnect forever")
        try natsCheck(natsOptions_SetReconnectWait(options, configuration.reconnectWait.milliseconds), "set reconnect wait")
        try natsCheck(natsOptions_SetReconnectJitter(options, 100, 1000), "set reconnect jitter")
        try natsCheck(natsOptions_SetTimeout(options, configuration.requestTimeout.milliseconds), "set connect timeout")
        // With no connected callback nats.c would block in natsConnection_Connect until a server
        // answers (forever, with unlimited reconnects); with one, it returns NATS_NOT_YET_CONNECTED
        // and keeps trying in the background. The callback itself has nothing to do.
        try natsCheck(natsOptions_SetRetryOnFailedConnect(options, configuration.retryOnFailedConnect, { _, _ in }, nil), "set retry on failed connect")
        // `connect` sets send-asap: on the main connection pull requests, acks and in-progress
        // signals go out at once instead of waiting ~1 ms for the flusher (fetch batch 1 goes
        // from ~1k to ~7.7k msg/s); the batch connection buffers and flushes once per burst.
        if let credentials = configuration.credentialsFile {
            try natsCheck(natsOptions_SetUserCredentialsFromFiles(options, credentials, nil), "load credentials \(credentials)")
        }
        let wantsTLS = configuration.tlsCAFile != nil || configuration.urls.contains { $0.hasPrefix("tls://") }
        if wantsTLS {
            try natsCheck(natsOptions_SetSecure(options, true), "enable TLS")
        }
        if let caFile = configuration.tlsCAFile {
            try natsCheck(natsOptions_LoadCATrustedCertificates(options, caFile), "load CA \(caFile)")
        }
        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile {
            try natsCheck(natsOptions_LoadCertificatesChain(options, certificate, key), "load client certificate")
        }
    }

    /// True while the connection is up.
    var isConnected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    /// Runs a blocking JetStream request off the cooperative pool.
    private func request<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            requestQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    // MARK: Publishing

    /// Publishes one message and waits for the stream's acknowledgement; returns its sequence.
    func publish(subject: String, data: [UInt8], messageID: String) async throws -> PublishAck {
        try await request {
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            var ack: UnsafeMutablePointer<jsPubAck>?
            var errorCode = jsErrCode(0)
            let status = messageID.withCString { id in
                options.MsgId = id
                return data.withUnsafeBytes { bytes in
                    js_Publish(&ack, self.jetStream, subject, bytes.baseAddress, Int32(bytes.count), &options, &errorCode)
                }
            }
            guard status == NATS_OK, let ack else {
                throw natsError(status, "publish to \(subject)", errorCode: errorCode)
            }
            defer { jsPubAck_Destroy(ack) }
            return PublishAck(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
        }
    }

    /// Publishes many messages asynchronously and waits for all acknowledgements; one result per
    /// message, in order. A message without an acknowledgement within the timeout is an error.
    func publishBatch(_ messages: [OutgoingMessage]) async -> [Result<PublishAck, TaskQueueError>] {
        guard !messages.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            publishQueue.async {
                continuation.resume(returning: self.publishBatchBlocking(messages))
            }
        }
    }

    private func publishBatchBlocking(_ messages: [OutgoingMessage]) -> [Result<PublishAck, TaskQueueError>] {
        let tracker = self.tracker.takeUnretainedValue()
        var immediate: [Int: TaskQueueError] = [:]
        for (index, message) in messages.enumerated() {
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            let status = message.messageID.withCString { id in
                options.MsgId = id
                return message.data.withUnsafeBytes { bytes in
                    js_PublishAsync(self.asyncJetStream, message.subject, bytes.baseAddress, Int32(bytes.count), &options)
                }
            }
            if status != NATS_OK {
                immediate[index] = natsError(status, "publish to \(message.subject)")
            }
        }
        // One write for the whole burst (the PONG also proves the server has read it all).
        _ = natsConnection_FlushTimeout(batchConnection, configuration.requestTimeout.milliseconds)
        var completeOptions = jsPubOptions()
        jsPubOptions_Init(&completeOptions)
        completeOptions.MaxWait = configuration.requestTimeout.milliseconds
        if js_PublishAsyncComplete(asyncJetStream, &completeOptions) != NATS_OK {
            // Messages still unacknowledged come back to us; they count as not published.
            var pending = natsMsgList()
            if js_PublishAsyncGetPendingList(&pending, asyncJetStream) == NATS_OK {
                natsMsgList_Destroy(&pending)
            }
        }
        // js_PublishAsyncComplete can return before the last acknowledgement callbacks have run;
        // give them a moment so that a message the stream took is not reported as unpublished.
        let outcomes = tracker.take(messages.map(\.messageID), waitingUpTo: .milliseconds(500))
        return messages.enumerated().map { index, message in
            if let error = immediate[index] { return .failure(error) }
            guard let outcome = outcomes[message.messageID] else {
                return .failure(TaskQueueError(.natsUnavailable, "no acknowledgement for \(message.messageID) on \(message.subject)"))
            }
            return outcome
        }
    }

    /// Publishes a plain NATS message on the buffered connection and returns at once; nats.c
    /// writes it with whatever else is queued within about a millisecond. For acknowledgements:
    /// a busy worker's acks go out a batch per write instead of one write each.
    func publishBuffered(subject: String, data: [UInt8]) throws {
        let status = data.withUnsafeBytes { bytes in
            natsConnection_Publish(batchConnection, subject, bytes.baseAddress, Int32(bytes.count))
        }
        try natsCheck(status, "publish to \(subject)")
    }

    // MARK: Consuming

    /// Binds to an existing durable pull consumer.
    func pullSubscribe(stream: String, consumer: String, subject: String) async throws -> PullSubscription {
        try await request {
            var subOptions = jsSubOptions()
            jsSubOptions_Init(&subOptions)
            var subscription: OpaquePointer?
            var errorCode = jsErrCode(0)
            let status = stream.withCString { streamName in
                consumer.withCString { consumerName in
                    subOptions.Stream = streamName
                    subOptions.Consumer = consumerName
                    subOptions.ManualAck = true
                    return js_PullSubscribe(&subscription, self.jetStream, subject, consumerName, nil, &subOptions, &errorCode)
                }
            }
            guard status == NATS_OK, let subscription else {
                throw natsError(status, "subscribe to consumer \(consumer)", errorCode: errorCode)
            }
            return PullSubscription(handle: subscription, consumer: consumer, client: self)
        }
    }

    // MARK: Reading

    /// The message at `sequence`, or nil when the stream no longer holds it.
    func message(stream: String, sequence: UInt64) async throws -> StoredMessage? {
        try await request {
            var message: OpaquePointer?
            var errorCode = jsErrCode(0)
            let status = js_GetMsg(&message, self.jetStream, stream, sequence, nil, &errorCode)
            if status == NATS_NOT_FOUND || errorCode == JSNoMessageFoundErr { return nil }
            guard status == NATS_OK, let message else {
                throw natsError(status, "read message \(sequence) of \(stream)", errorCode: errorCode)
            }
            defer { natsMsg_Destroy(message) }
            let stored = JetStreamMessageCopy(message)
            return StoredMessage(sequence: sequence, subject: stored.subject, data: stored.data)
        }
    }

    func streamInfo(_ name: String) async throws -> StreamSnapshot? {
        try await request { try self.streamInfoBlocking(name) }
    }

    func streamInfoBlocking(_ name: String) throws -> StreamSnapshot? {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStream, name, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSStreamNotFoundErr { return nil }
        guard status == NATS_OK, let info else {
            throw natsError(status, "read stream \(name)", errorCode: errorCode)
        }
        defer { jsStreamInfo_Destroy(info) }
        return StreamSnapshot(info.pointee)
    }

    func consumers(stream: String) async throws -> [ConsumerSnapshot] {
        try await request {
            var list: UnsafeMutablePointer<jsConsumerInfoList>?
            var errorCode = jsErrCode(0)
            let status = js_Consumers(&list, self.jetStream, stream, nil, &errorCode)
            if status == NATS_NOT_FOUND { return [] }
            guard status == NATS_OK, let list else {
                throw natsError(status, "list consumers of \(stream)", errorCode: errorCode)
            }
            defer { jsConsumerInfoList_Destroy(list) }
            return (0..<Int(list.pointee.Count)).compactMap { index in
                list.pointee.List[index].map { ConsumerSnapshot($0.pointee) }
            }.sorted { $0.name < $1.name }
        }
    }

    func consumerInfoBlocking(stream: String, name: String) throws -> (ConsumerSnapshot, jsConsumerConfigCopy)? {
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetConsumerInfo(&info, jetStream, stream, name, nil, &errorCode)
        if status == NATS_NOT_FOUND || errorCode == JSConsumerNotFoundErr { return nil }
        guard status == NATS_OK, let info else {
            throw natsError(status, "read consumer \(name)", errorCode: errorCode)
        }
        defer { jsConsumerInfo_Destroy(info) }
        return (ConsumerSnapshot(info.pointee), jsConsumerConfigCopy(info.pointee.Config))
    }

    // MARK: Provisioning (NATSClient+Provisioning.swift)

    func withJetStream<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await request { try body(self.jetStream) }
    }

    /// Removes one message from a stream (what a broker crash does to an unsynced message).
    func deleteMessage(stream: String, sequence: UInt64) async throws {
        try await request {
            var errorCode = jsErrCode(0)
            try natsCheck(js_DeleteMsg(self.jetStream, stream, sequence, nil, &errorCode), "delete message \(sequence)", errorCode: errorCode)
        }
    }

    /// Deletes a stream (tests and tooling clean up with it).
    func deleteStream(_ name: String) async throws {
        try await request {
            var errorCode = jsErrCode(0)
            let status = js_DeleteStream(self.jetStream, name, nil, &errorCode)
            if status == NATS_NOT_FOUND || errorCode == JSStreamNotFoundErr { return }
            try natsCheck(status, "delete stream \(name)", errorCode: errorCode)
        }
    }
}

/// The server's answer to one publish.
struct PublishAck: Sendable, Equatable {
    var sequence: UInt64
    /// True when the server dropped the message as a duplicate of the same Nats-Msg-Id.
    var duplicate: Bool
}

/// A message to publish with its de-duplication id.
struct OutgoingMessage: Sendable {
    var subject: String
    var data: [UInt8]
    var messageID: String
}

/// Collects async publish acknowledgements from nats.c's callback thread, keyed by Nats-Msg-Id.
final class PublishTracker: Sendable {
    /// Outcomes in the order their callbacks ran, not yet taken.
    private let arrived = Mutex<[(id: String, outcome: Result<PublishAck, TaskQueueError>)]>([])

    func record(_ id: String, _ outcome: Result<PublishAck, TaskQueueError>) {
        arrived.withLock { $0.append((id, outcome)) }
    }

    /// Returns the outcomes for `ids`, waiting (on the calling thread, which is the dedicated
    /// publish queue) up to `limit` for callbacks still on their way. Outcomes of other ids (late
    /// callbacks of a batch that gave up on them) are dropped.
    func take(_ ids: [String], waitingUpTo limit: Duration) -> [String: Result<PublishAck, TaskQueueError>] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: limit)
        let wanted = Set(ids)
        var taken: [String: Result<PublishAck, TaskQueueError>] = [:]
        taken.reserveCapacity(wanted.count)
        var batch: [(id: String, outcome: Result<PublishAck, TaskQueueError>)] = []
        while true {
            arrived.withLock { swap(&$0, &batch) }
            for (id, outcome) in batch where wanted.contains(id) { taken[id] = outcome }
            batch.removeAll(keepingCapacity: true)
            if taken.count == wanted.count || clock.now >= deadline { return taken }
            usleep(200)
        }
    }
}

/// nats.c calls this on its own thread for every async publish; it captures nothing and finds the
/// tracker through the closure pointer. The message is ours to destroy.
private let publishAckHandler: jsPubAckHandler = { _, message, ack, ackError, closure in
    defer { natsMsg_Destroy(message) }
    guard let closure, let message else { return }
    let tracker = Unmanaged<PublishTracker>.fromOpaque(closure).takeUnretainedValue()
    var idPointer: UnsafePointer<CChar>?
    guard natsMsgHeader_Get(message, "Nats-Msg-Id", &idPointer) == NATS_OK, let idPointer else { return }
    let id = String(cString: idPointer)
    if let ack {
        tracker.record(id, .success(PublishAck(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)))
    } else if let ackError {
        let text = ackError.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(ackError.pointee.Err))
        tracker.record(id, .failure(TaskQueueError(.jetStreamError, "publish \(id) rejected: \(text)")))
    }
}

/// The subject and body of a message we do not own.
struct JetStreamMessageCopy {
    let subject: String
    let data: [UInt8]

    init(_ message: OpaquePointer) {
        subject = natsMsg_GetSubject(message).map { String(cString: $0) } ?? ""
        let length = Int(natsMsg_GetDataLength(message))
        if length > 0, let bytes = natsMsg_GetData(message) {
            data = bytes.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        } else {
            data = []
        }
    }
}

/// The consumer settings provisioning compares, copied out of nats.c.
struct jsConsumerConfigCopy: Sendable {
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

extension StreamSnapshot {
    init(_ info: jsStreamInfo) {
        let config = info.Config?.pointee
        let subjects: [String] = config.map { config in
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
            ReplicaSnapshot(name: peer.pointee.Name.map { String(cString: $0) } ?? "",
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
