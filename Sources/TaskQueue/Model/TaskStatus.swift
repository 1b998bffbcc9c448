/// Where a task is in its life.
///
/// `scheduled` → `queued` → `running` → `completed`; `running` → `retrying` → `running`;
/// `running` → `failed`; `scheduled|queued|retrying` → `cancelled`; `failed` → `queued` by a retry.
public enum TaskStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for its `runAt` time.
    case scheduled
    /// Ready to run, waiting for a worker.
    case queued
    /// A worker holds its lease and runs its handler.
    case running
    /// An attempt failed; the next one waits for its backoff.
    case retrying
    /// The handler succeeded.
    case completed
    /// Failed for good (terminal error, attempts exhausted, no handler, undecodable payload).
    case failed
    /// Cancelled before it ran to the end.
    case cancelled

    /// No further attempt will happen without an explicit retry.
    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}
