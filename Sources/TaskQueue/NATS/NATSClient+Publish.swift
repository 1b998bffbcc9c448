import CNATS
import Dispatch
import Foundation
import Synchronization

/// Publishing: one message with its acknowledgement, a burst on the buffered connection, and
/// fire-and-forget acknowledgements.
extension NATSClient {
    /// Publishes one message and waits for the stream's acknowledgement; returns its sequence.
    /// `headers` go beside Nats-Msg-Id (a task's trace fields).
    func publish(subject: String, data: [UInt8], messageID: String, headers: [String: String] = [:]) async throws -> PublishAck {
        try await request {
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            var ack: UnsafeMutablePointer<jsPubAck>?
            var errorCode = jsErrCode(0)
            let status = messageID.withCString { id in
                options.MsgId = id
                guard !headers.isEmpty else {
                    return data.withUnsafeBytes { bytes in
                        js_Publish(&ack, self.jetStream, subject, bytes.baseAddress, Int32(bytes.count), &options, &errorCode)
                    }
                }
                var message: OpaquePointer?
                let created = Self.makeMessage(&message, subject: subject, data: data, headers: headers)
                defer { natsMsg_Destroy(message) }
                guard created == NATS_OK else { return created }
                return js_PublishMsg(&ack, self.jetStream, message, &options, &errorCode)
            }
            guard status == NATS_OK, let ack else {
                throw natsError(status, "publish to \(subject)", errorCode: errorCode)
            }
            defer { jsPubAck_Destroy(ack) }
            return PublishAck(sequence: ack.pointee.Sequence)
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
                guard !message.headers.isEmpty else {
                    return message.data.withUnsafeBytes { bytes in
                        js_PublishAsync(self.asyncJetStream, message.subject, bytes.baseAddress, Int32(bytes.count), &options)
                    }
                }
                var outgoing: OpaquePointer?
                let created = Self.makeMessage(&outgoing, subject: message.subject, data: message.data, headers: message.headers)
                // On success the library owns the message and clears `outgoing`: destroying nil is a no-op.
                defer { natsMsg_Destroy(outgoing) }
                guard created == NATS_OK else { return created }
                return js_PublishMsgAsync(self.asyncJetStream, &outgoing, &options)
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

    /// A message with headers, for the publish calls that take one.
    private static func makeMessage(_ message: inout OpaquePointer?, subject: String, data: [UInt8], headers: [String: String]) -> natsStatus {
        var status = data.withUnsafeBytes { bytes in
            natsMsg_Create(&message, subject, nil, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
        for (key, value) in headers where status == NATS_OK {
            status = natsMsgHeader_Set(message, key, value)
        }
        return status
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
}

/// The server's answer to one publish.
struct PublishAck: Sendable, Equatable {
    var sequence: UInt64
}

/// A message to publish with its de-duplication id.
struct OutgoingMessage: Sendable {
    var subject: String
    var data: [UInt8]
    var messageID: String
    /// Beside Nats-Msg-Id: the task's trace fields, when it has any.
    var headers: [String: String] = [:]
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
let publishAckHandler: jsPubAckHandler = { _, message, ack, ackError, closure in
    defer { natsMsg_Destroy(message) }
    guard let closure, let message else { return }
    let tracker = Unmanaged<PublishTracker>.fromOpaque(closure).takeUnretainedValue()
    var idPointer: UnsafePointer<CChar>?
    guard natsMsgHeader_Get(message, "Nats-Msg-Id", &idPointer) == NATS_OK, let idPointer else { return }
    let id = String(cString: idPointer)
    if let ack {
        tracker.record(id, .success(PublishAck(sequence: ack.pointee.Sequence)))
    } else if let ackError {
        let text = ackError.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(ackError.pointee.Err))
        tracker.record(id, .failure(TaskQueueError(.jetStreamError, "publish \(id) rejected: \(text)")))
    }
}
