/// The task an attempt runs in, so that a cancel request can cancel that one attempt.
///
/// It holds the attempt's `UnsafeCurrentTask`. Cancelling is one of the operations that handle
/// allows from another task (those `Task` offers too); what it must not do is outlive the task.
/// The worker keeps it in the attempt's `running` entry only while the handler runs and cancels
/// only under the lock of that map, so it never reaches a task that has ended. A `Task` of its
/// own per attempt would do the same at the cost of an allocation and a hop per task.
struct AttemptTask: @unchecked Sendable {
    private let task: UnsafeCurrentTask

    /// The task the caller runs in (nil outside a task).
    static var current: AttemptTask? {
        withUnsafeCurrentTask { task in task.map { AttemptTask(task: $0) } }
    }

    /// Cancels the attempt's task: its handler sees `Task.isCancelled`, and sleeps and most I/O stop.
    func cancel() { task.cancel() }
}
