import CNATS
import Dispatch
import Foundation

/// One NATS connection with its JetStream contexts.
///
/// Teardown order matters: the JetStream contexts go before the connection, and the publish
/// tracker (the async-publish callback's context) is released only after its context is gone.
///
/// `@unchecked Sendable`: nats.c connections and JetStream contexts are thread-safe; the
/// batch-publish path, which relies on `js_PublishAsyncComplete`, is serialised on `publishQueue`.
///
/// This file connects and runs requests; publishing is in `NATSClient+Publish`, reading and
/// deleting in `NATSClient+Reads`, stream and consumer set-up in `NATSClient+Provisioning`.
/// The handles below are internal rather than private only so those extensions can use them.
final class NATSClient: @unchecked Sendable {
    private let connection: OpaquePointer
    /// Batch publishing has a connection of its own that buffers writes: the main one sends every
    /// protocol message at once (pull requests and acks must not wait for the flusher), which
    /// for a burst of a thousand publishes meant a thousand socket writes.
    let batchConnection: OpaquePointer
    let jetStream: OpaquePointer
    let asyncJetStream: OpaquePointer
    let tracker: Unmanaged<PublishTracker>
    let publishQueue = DispatchQueue(label: "taskflow.nats.publish")
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
        defer { for server in servers { free(server) } }
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
    func request<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            requestQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

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

    // MARK: Provisioning (NATSClient+Provisioning.swift)

    func withJetStream<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await request { try body(self.jetStream) }
    }
}
