/// Group commit for enqueues: calls that arrive while a batch is being written wait and go
/// together in the next one: one INSERT, one commit, one publish burst. Callers are answered once
/// their tasks are committed and published.
actor EnqueueBatcher {
    typealias Write = @Sendable ([NewTask]) async -> [Result<EnqueueResult, TaskQueueError>]

    private struct Item {
        let task: NewTask
        let continuation: CheckedContinuation<Result<EnqueueResult, TaskQueueError>, Never>
    }

    private let write: Write
    private var pending: [Item] = []
    private var writing = false
    private let maxBatch = 500

    /// `write` stores and publishes one batch, answering in the order of its input.
    init(write: @escaping Write) {
        self.write = write
    }

    func submit(_ task: NewTask) async -> Result<EnqueueResult, TaskQueueError> {
        await withCheckedContinuation { continuation in
            pending.append(Item(task: task, continuation: continuation))
            if !writing {
                writing = true
                // Unstructured on purpose: a TaskQueue has no lifecycle of its own to run a writer
                // in. The writer ends as soon as nothing is pending; the next call starts another.
                Task { await self.drain() }
            }
        }
    }

    private func nextBatch() -> [Item]? {
        guard !pending.isEmpty else {
            writing = false
            return nil
        }
        let batch = Array(pending.prefix(maxBatch))
        pending.removeFirst(batch.count)
        return batch
    }

    private func drain() async {
        while let batch = nextBatch() {
            let results = await write(batch.map(\.task))
            for (item, result) in zip(batch, results) { item.continuation.resume(returning: result) }
        }
    }
}
