/// What a claim found for one id.
enum ClaimOutcome: Sendable, Equatable {
    case claimed(TaskRecord)
    /// Not due yet: redeliver after this long.
    case notDue(Duration)
    /// Another worker runs it under a live lease that ends in this long. If that worker dies, this
    /// copy is the task's way back, so it must return after the lease rather than be acked.
    case leased(Duration)
    /// Already finished (completed, failed or cancelled).
    case finished(TaskStatus)
    /// Another worker claimed it in the same instant (its own copy of the message carries it).
    case heldElsewhere
    /// No such task.
    case unknown
    /// Its type is paused or over a fleet-wide limit: the task was held (no attempt spent) and is
    /// published again when the type is resumed or has room, so this message is done with.
    case held
    /// Running under an expired lease with a cancel request: its worker stopped before acting on
    /// the request, so the task is to be cancelled rather than run again.
    case cancelAbandoned
    /// Its type has limits and the limited claim could not be made (the database failed between
    /// the two statements): the message comes back for another try.
    case limited
}
