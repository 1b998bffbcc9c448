/// Messages fetched but not yet started, one queue per priority, plus the worker's free handler
/// slots. Fetchers push while their queue has room; the dispatcher takes as many messages as
/// there are free slots, in the picker's order. Closing returns what was never started, to NAK.
///
/// Generic over the message so its logic is tested without a server; the worker's is a
/// `DeliveryBuffer<JetStreamMessage>`.
actor DeliveryBuffer<Message: Sendable> {
    struct Delivery: Sendable {
        let message: Message
        let priority: TaskPriority
    }

    private var queues: [[Message]] = [[], [], []]
    private var picker: PriorityPicker
    private let capacity: Int
    private var freeSlots: Int
    private var takeWaiter: CheckedContinuation<[Delivery], Never>?
    private var roomWaiters: [CheckedContinuation<Int, Never>?] = [nil, nil, nil]
    private(set) var isClosed = false

    init(slots: Int, prefetchPerPriority: Int, starvationLimit: Int) {
        freeSlots = slots
        capacity = max(1, prefetchPerPriority)
        picker = PriorityPicker(starvationLimit: starvationLimit)
    }

    /// Adds fetched messages; once closed they come straight back for the caller to NAK.
    func push(_ messages: [Message], priority: TaskPriority) -> [Message] {
        if isClosed { return messages }
        queues[priority.rank].append(contentsOf: messages)
        serveTaker()
        return []
    }

    /// Waits until `priority`'s queue has room and returns how much; 0 once closed.
    func waitForRoom(_ priority: TaskPriority) async -> Int {
        if isClosed { return 0 }
        let room = capacity - queues[priority.rank].count
        if room > 0 { return room }
        return await withCheckedContinuation { roomWaiters[priority.rank] = $0 }
    }

    /// Waits for at least one message and one free slot; returns up to `freeSlots` messages, each
    /// holding a slot until `release` is called for it. Empty once closed.
    func take() async -> [Delivery] {
        if isClosed { return [] }
        if let batch = pickBatch() { return batch }
        return await withCheckedContinuation { takeWaiter = $0 }
    }

    /// Gives slots back (a handler finished, or a message needed no handler).
    func release(_ count: Int = 1) {
        freeSlots += count
        serveTaker()
    }

    /// Messages currently waiting, for in-progress heartbeats.
    func waiting() -> [Message] { queues.flatMap { $0 } }

    /// Stops the flow: wakes every waiter and hands back the messages that never started.
    func close() -> [Message] {
        isClosed = true
        let unstarted = queues.flatMap { $0 }
        queues = [[], [], []]
        takeWaiter?.resume(returning: [])
        takeWaiter = nil
        for index in roomWaiters.indices {
            roomWaiters[index]?.resume(returning: 0)
            roomWaiters[index] = nil
        }
        return unstarted
    }

    private func pickBatch() -> [Delivery]? {
        guard freeSlots > 0, queues.contains(where: { !$0.isEmpty }) else { return nil }
        var batch: [Delivery] = []
        while freeSlots > 0, let rank = picker.pick(waiting: queues.map { !$0.isEmpty }) {
            let message = queues[rank].removeFirst()
            batch.append(Delivery(message: message, priority: TaskPriority.allCases[rank]))
            freeSlots -= 1
        }
        for rank in queues.indices where queues[rank].count < capacity {
            if let waiter = roomWaiters[rank] {
                roomWaiters[rank] = nil
                waiter.resume(returning: capacity - queues[rank].count)
            }
        }
        return batch
    }

    private func serveTaker() {
        guard let waiter = takeWaiter, let batch = pickBatch() else { return }
        takeWaiter = nil
        waiter.resume(returning: batch)
    }
}
