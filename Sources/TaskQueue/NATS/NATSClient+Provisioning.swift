import CNATS
import Foundation

/// What to create or check on the server: a work stream, a dead-letter stream, one pull consumer
/// per priority.
struct StreamSpec: Sendable {
    var name: String
    var subjects: [String]
    var workQueue: Bool
    var replicas: Int
    var duplicateWindow: Duration
    /// Limits-retention streams keep messages this long (0 = forever).
    var maxAge: Duration
}

struct ConsumerSpec: Sendable {
    var stream: String
    var name: String
    var filterSubject: String
    var ackWait: Duration
    var maxAckPending: Int
}

/// What provisioning did to one stream or consumer.
enum ProvisionOutcome: String, Sendable { case created, updated, unchanged }

extension NATSClient {
    /// Creates the stream, updates what JetStream can change in place, and refuses (with a clear
    /// error) a stream whose retention or storage differs, rather than silently using it.
    @discardableResult
    func ensureStream(_ spec: StreamSpec) async throws -> ProvisionOutcome {
        try await withJetStream { js in try Self.ensureStreamBlocking(spec, js) }
    }

    @discardableResult
    func ensureConsumer(_ spec: ConsumerSpec) async throws -> ProvisionOutcome {
        try await withJetStream { js in try Self.ensureConsumerBlocking(spec, js, client: self) }
    }

    private static func ensureStreamBlocking(_ spec: StreamSpec, _ js: OpaquePointer) throws -> ProvisionOutcome {
        var existing: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = js_GetStreamInfo(&existing, js, spec.name, nil, &errorCode)
        let found = status == NATS_OK && existing != nil
        if !found, status != NATS_NOT_FOUND, errorCode != JSStreamNotFoundErr {
            throw natsError(status, "read stream \(spec.name)", errorCode: errorCode)
        }
        var outcome = ProvisionOutcome.created
        if let existing {
            defer { jsStreamInfo_Destroy(existing) }
            guard let config = existing.pointee.Config?.pointee else {
                throw TaskQueueError(.jetStreamError, "stream \(spec.name) has no configuration")
            }
            let wantedRetention = spec.workQueue ? js_WorkQueuePolicy : js_LimitsPolicy
            if config.Retention != wantedRetention || config.Storage != js_FileStorage {
                throw TaskQueueError(
                    .incompatibleStream,
                    "stream \(spec.name) exists with \(retentionName(config.Retention)) retention and "
                        + "\(config.Storage == js_FileStorage ? "file" : "memory") storage; TaskFlow needs "
                        + "\(retentionName(wantedRetention)) retention on file storage, which JetStream cannot change in place. "
                        + "Remove the stream or choose another stream name."
                )
            }
            let subjects = Set((0..<Int(config.SubjectsLen)).compactMap { config.Subjects[$0].map { String(cString: $0) } })
            let same =
                subjects == Set(spec.subjects)
                && Int(config.Replicas) == spec.replicas
                && config.Duplicates == spec.duplicateWindow.nanoseconds
                && config.MaxAge == spec.maxAge.nanoseconds
            if same { return .unchanged }
            outcome = .updated
        }
        try withStreamConfig(spec) { config in
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            let result =
                outcome == .created
                ? js_AddStream(&info, js, config, nil, &code)
                : js_UpdateStream(&info, js, config, nil, &code)
            if let info { jsStreamInfo_Destroy(info) }
            if result != NATS_OK {
                let base = natsError(result, "\(outcome == .created ? "create" : "update") stream \(spec.name)", errorCode: code)
                throw outcome == .created
                    ? base
                    : TaskQueueError(
                        .incompatibleStream,
                        "stream \(spec.name) differs from what TaskFlow needs and JetStream refused the change: \(base.message)"
                    )
            }
        }
        return outcome
    }

    private static func withStreamConfig(_ spec: StreamSpec, _ body: (UnsafeMutablePointer<jsStreamConfig>) throws -> Void) throws {
        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        var subjects: [UnsafePointer<CChar>?] = spec.subjects.map { UnsafePointer(strdup($0)) }
        defer { for subject in subjects { free(UnsafeMutablePointer(mutating: subject)) } }
        try spec.name.withCString { name in
            try subjects.withUnsafeMutableBufferPointer { subjectList in
                config.Name = name
                config.Subjects = subjectList.baseAddress
                config.SubjectsLen = Int32(subjectList.count)
                config.Retention = spec.workQueue ? js_WorkQueuePolicy : js_LimitsPolicy
                config.Storage = js_FileStorage
                config.Replicas = Int64(spec.replicas)
                config.Duplicates = spec.duplicateWindow.nanoseconds
                config.MaxAge = spec.maxAge.nanoseconds
                try body(&config)
            }
        }
    }

    private static func ensureConsumerBlocking(_ spec: ConsumerSpec, _ js: OpaquePointer, client: NATSClient) throws -> ProvisionOutcome {
        var outcome = ProvisionOutcome.created
        if let existing = try client.consumerInfoBlocking(stream: spec.stream, name: spec.name) {
            if existing.ackPolicy != js_AckExplicit.rawValue || existing.deliverPolicy != js_DeliverAll.rawValue {
                throw TaskQueueError(
                    .incompatibleStream,
                    "consumer \(spec.name) on \(spec.stream) exists without explicit ack or deliver-all; "
                        + "JetStream cannot change that in place. Remove the consumer or choose another consumer name."
                )
            }
            let same =
                existing.filterSubject == spec.filterSubject
                && existing.ackWait == spec.ackWait.nanoseconds
                && existing.maxAckPending == Int64(spec.maxAckPending)
                && existing.maxDeliver == -1
            if same { return .unchanged }
            outcome = .updated
        }
        var config = jsConsumerConfig()
        jsConsumerConfig_Init(&config)
        try spec.name.withCString { name in
            try spec.filterSubject.withCString { filter in
                config.Durable = name
                config.Name = name
                config.FilterSubject = filter
                config.AckPolicy = js_AckExplicit
                config.DeliverPolicy = js_DeliverAll
                config.AckWait = spec.ackWait.nanoseconds
                config.MaxAckPending = Int64(spec.maxAckPending)
                // Attempts are counted in PostgreSQL; the broker must never drop a task on its own.
                config.MaxDeliver = -1
                var info: UnsafeMutablePointer<jsConsumerInfo>?
                var code = jsErrCode(0)
                let result =
                    outcome == .created
                    ? js_AddConsumer(&info, js, spec.stream, &config, nil, &code)
                    : js_UpdateConsumer(&info, js, spec.stream, &config, nil, &code)
                if let info { jsConsumerInfo_Destroy(info) }
                if result != NATS_OK {
                    let base = natsError(result, "\(outcome == .created ? "create" : "update") consumer \(spec.name)", errorCode: code)
                    throw outcome == .created
                        ? base
                        : TaskQueueError(
                            .incompatibleStream,
                            "consumer \(spec.name) differs from what TaskFlow needs and JetStream refused the change: \(base.message)"
                        )
                }
            }
        }
        return outcome
    }
}
