/// A published task that shows no progress, with the stream sequence recorded for its message
/// (nil when none was), so the reconciler can look for the message there.
struct SuspectTask: Sendable {
    var target: PublishTarget
    var sequence: UInt64?
}
