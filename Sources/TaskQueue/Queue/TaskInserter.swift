import Foundation

/// The write path of an enqueue: one INSERT for many tasks, then one publish burst for the ones
/// created and due.
struct TaskInserter: Sendable {
    let pool: PostgresPool
    let publisher: TaskPublisher
    let defaultMaxAttempts: Int

    /// Inserts tasks in one statement and publishes the ones created and due; returns the results
    /// as the rows now stand (a task whose publish failed is flagged for the reconciler).
    ///
    /// What the stream took is not written back: the claim records it (it carries the message's
    /// sequence), and a task still unclaimed after the reconciler's grace is published again under
    /// the same Nats-Msg-Id, which the server answers with the original message's sequence
    /// instead of storing a copy. That saves an UPDATE of every task on the enqueue path.
    func insertAndPublish(_ tasks: [NewTask]) async -> [Result<EnqueueResult, TaskQueueError>] {
        await publishInserted(await insert(tasks))
    }

    private func insert(_ tasks: [NewTask]) async -> [Result<EnqueueResult, TaskQueueError>] {
        let maxAttempts = defaultMaxAttempts
        do {
            return try await pool.withSession { session in
                try TaskStore.insert(tasks, defaultMaxAttempts: maxAttempts, session: session)
            }
        } catch {
            let failure = error as? TaskQueueError ?? TaskQueueError(.databaseError, "\(error)")
            guard Self.isRejectedData(failure) else { return tasks.map { _ in .failure(failure) } }
            // One task's data broke the statement (a payload string holding \u0000, which jsonb
            // cannot store, passes every JSON parser): insert one by one so only that task fails,
            // as the caller's mistake, and the rest of the batch is not lost with it.
            if tasks.count == 1 {
                return [.failure(TaskQueueError(.invalidArgument, "PostgreSQL rejected the task: \(failure.message)", field: "payload"))]
            }
            var results: [Result<EnqueueResult, TaskQueueError>] = []
            for task in tasks { results += await insert([task]) }
            return results
        }
    }

    /// SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the values were at
    /// fault, not the database.
    static func isRejectedData(_ error: TaskQueueError) -> Bool {
        guard error.code == .databaseError, let state = error.underlyingStatus else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    private func publishInserted(_ inserted: [Result<EnqueueResult, TaskQueueError>]) async -> [Result<EnqueueResult, TaskQueueError>] {
        let due = inserted.compactMap { try? $0.get() }.filter { $0.created && $0.task.status == .queued }
        guard !due.isEmpty else { return inserted }
        let marks = await publisher.send(due.map { PublishTarget(taskID: $0.task.id, priority: $0.task.priority, generation: 0, trace: $0.task.trace) })
        guard marks.count < due.count else { return inserted }
        // `send` flagged the ones the stream did not take; say so in the answer, as reads will.
        let published = Set(marks.map(\.taskID))
        let now = Date()
        return inserted.map { result in
            result.map { value in
                var value = value
                if value.created, value.task.status == .queued, !published.contains(value.task.id) { value.task.publishFailedAt = now }
                return value
            }
        }
    }

    /// Publishes the tasks a committed transaction created.
    func publishCommitted(_ enqueued: [EnqueueResult]) async {
        let targets = enqueued.filter { $0.created && $0.task.status == .queued }
            .map { PublishTarget(taskID: $0.task.id, priority: $0.task.priority, generation: 0, trace: $0.task.trace) }
        _ = await publisher.send(targets)
    }
}
