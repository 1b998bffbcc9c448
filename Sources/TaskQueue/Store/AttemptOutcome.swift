import Foundation

/// How one attempt ended, as the store records it.
struct AttemptOutcome: Sendable {
    enum Status: String, Sendable { case completed, retrying, failed, cancelled }
    var taskID: UUID
    var attempt: Int
    var status: Status
    var error: String?
    var retryDelay: Duration?
}
