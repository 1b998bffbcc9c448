import Logging

/// Group commit for enqueues: calls that arrive while a batch is being written wait and go
/// together in the next one: one INSERT, one commit, one publish burst. Callers are answered once
/// their tasks are committed and published.
actor EnqueueBatcher {
    private struct Item {
        let task: NewTask
        let continuation: CheckedContinuation<Result<EnqueueResult, TaskQueueError>, Never>
    }

    private var pending: [Item] = []
    private var writing = false
    private let maxBatch = 500

    func submit(_ task: NewTask, to queue: TaskQueue) async -> Result<EnqueueResult, TaskQueueError> {
        await withCheckedContinuation { continuation in
            pending.append(Item(task: task, continuation: continuation))
            if !writing {
                writing = true
                // Unstructured on purpose: a TaskQueue has no lifecycle of its own to run a writer
                // in. The writer ends as soon as nothing is pending; the next call starts another.
                Task { await self.write(to: queue) }
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

    private func write(to queue: TaskQueue) async {
        while let batch = nextBatch() {
            let results = await queue.insertAndPublish(batch.map(\.task))
            for (item, result) in zip(batch, results) { item.continuation.resume(returning: result) }
        }
    }
}
