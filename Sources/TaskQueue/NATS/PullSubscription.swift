import CNATS
import Dispatch
import Foundation

/// A pull subscription bound to one durable consumer. Fetch blocks in nats.c, so it runs on the
/// subscription's own serial queue; nats.c rejects concurrent Fetch calls on one subscription anyway.
///
/// `@unchecked Sendable`: the `natsSubscription` handle is used only from `queue`.
final class PullSubscription: @unchecked Sendable {
    private let handle: OpaquePointer
    private let queue: DispatchQueue
    let consumer: String
    /// Sends the acknowledgements; held so that the connection outlives this subscription.
    private let client: NATSClient
    private var closed = false

    init(handle: OpaquePointer, consumer: String, client: NATSClient) {
        self.handle = handle
        self.consumer = consumer
        self.client = client
        self.queue = DispatchQueue(label: "taskflow.fetch.\(consumer)")
    }

    deinit {
        // Destroy, not Unsubscribe: the durable consumer must outlive this process.
        natsSubscription_Destroy(handle)
    }

    /// Fetches up to `batch` messages. With `noWait` the server answers at once with what it has;
    /// otherwise the request waits up to `timeout`. An empty array means none arrived.
    ///
    /// A waiting request for more than one message stays open on the server until the batch is full
    /// or it expires, so callers long-poll with batch 1 and take the rest with `noWait`.
    func fetch(batch: Int, noWait: Bool, timeout: Duration) async throws -> [JetStreamMessage] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.fetchBlocking(batch: batch, noWait: noWait, timeout: timeout) })
            }
        }
    }

    private func fetchBlocking(batch: Int, noWait: Bool, timeout: Duration) throws -> [JetStreamMessage] {
        if closed { return [] }
        var pendingMessages: Int32 = 0
        var pendingBytes: Int32 = 0
        // nats.c 3.4.1 can overflow the heap when a Fetch with batch > 1 starts while messages from
        // an earlier, expired request are already buffered; take those one at a time.
        natsSubscription_GetPending(handle, &pendingMessages, &pendingBytes)
        var request = jsFetchRequest()
        jsFetchRequest_Init(&request)
        request.Batch = pendingMessages > 0 ? 1 : Int32(max(1, batch))
        request.NoWait = noWait
        request.Expires = max(1_000_000, timeout.nanoseconds)
        var list = natsMsgList()
        let status = natsSubscription_FetchRequest(&list, handle, &request)
        defer { natsMsgList_Destroy(&list) }
        if list.Count == 0 {
            // Timeout: nothing arrived; not found: a no-wait request found nothing.
            if status == NATS_TIMEOUT || status == NATS_NOT_FOUND || status == NATS_OK { return [] }
            throw natsError(status, "fetch from \(consumer)")
        }
        var messages: [JetStreamMessage] = []
        messages.reserveCapacity(Int(list.Count))
        for index in 0..<Int(list.Count) {
            guard let message = list.Msgs[index] else { continue }
            // Take ownership: natsMsgList_Destroy skips the slots we clear.
            list.Msgs[index] = nil
            messages.append(JetStreamMessage(taking: message, acker: client))
        }
        return messages
    }

    /// Stops further fetches; a fetch already waiting finishes at its timeout.
    func close() {
        queue.async { self.closed = true }
    }
}
