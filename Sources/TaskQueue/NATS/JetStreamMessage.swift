import CNATS
import Foundation

/// A message fetched from a pull consumer. Owns its `natsMsg` and destroys it once.
///
/// `@unchecked Sendable`: the worker hands a message to exactly one task at a time; the
/// acknowledgement calls are thread-safe in nats.c (they publish on the shared connection).
/// Acks and in-progress signals are fire-and-forget: they queue a write and return.
final class JetStreamMessage: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The message body.
    let data: [UInt8]
    /// The subject it was published on.
    let subject: String
    /// Its sequence in the stream.
    let streamSequence: UInt64
    /// How many times JetStream has delivered it (1 on the first delivery).
    let deliveryCount: UInt64

    /// Where a plain acknowledgement goes out (see `ack`); nil sends it the usual way.
    private let acker: NATSClient?
    private let reply: String?

    init(taking handle: OpaquePointer, acker: NATSClient? = nil) {
        self.handle = handle
        self.acker = acker
        reply = natsMsg_GetReply(handle).map { String(cString: $0) }
        let length = Int(natsMsg_GetDataLength(handle))
        if length > 0, let bytes = natsMsg_GetData(handle) {
            data = bytes.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        } else {
            data = []
        }
        subject = natsMsg_GetSubject(handle).map { String(cString: $0) } ?? ""
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, handle) == NATS_OK, let meta {
            streamSequence = meta.pointee.Sequence.Stream
            deliveryCount = meta.pointee.NumDelivered
            jsMsgMetaData_Destroy(meta)
        } else {
            streamSequence = 0
            deliveryCount = 0
        }
    }

    deinit { natsMsg_Destroy(handle) }

    /// The body as UTF-8 text, when it is valid UTF-8.
    var text: String? { String(validating: data, as: UTF8.self) }

    /// Acknowledges: the message is done and leaves the work-queue stream. An acknowledgement is
    /// a `+ACK` to the message's reply subject; it goes out on the buffered connection, so a
    /// batch of them costs one socket write. (Naks, terms and in-progress signals stay on the
    /// immediate connection: they steer redelivery and should not wait.)
    func ack() throws {
        guard let acker, let reply else { return try natsCheck(natsMsg_Ack(handle, nil), "ack") }
        try acker.publishBuffered(subject: reply, data: Array("+ACK".utf8))
    }

    /// Asks for redelivery at once.
    func nak() throws { try natsCheck(natsMsg_Nak(handle, nil), "nak") }

    /// Asks for redelivery after `delay`; the backoff travels with the message.
    func nak(delay: Duration) throws {
        try natsCheck(natsMsg_NakWithDelay(handle, max(1, delay.milliseconds), nil), "nak with delay")
    }

    /// Resets the broker's AckWait clock: the handler is still working.
    func inProgress() throws { try natsCheck(natsMsg_InProgress(handle, nil), "in progress") }

    /// Terminates: never redeliver (for messages that can never become a task).
    func term() throws { try natsCheck(natsMsg_Term(handle, nil), "term") }
}
