import Foundation

/// Fleet-wide limits per task type: the library side of the REST API's
/// `/api/v1/types/{type}/limits`. Limits can also be declared in code on a ``TaskDefinition``.
///
/// Workers read which types have limits every second, so a new limit holds within about a second
/// of being set. A task over its type's limit is held in PostgreSQL (its message acknowledged, no
/// attempt spent), so waiting work of one type never blocks the stream for others; workers release
/// held tasks, oldest first, as soon as a running one finishes or the rate's window has room.
extension TaskQueue {
    /// Sets `type`'s limits, replacing any it had; returns them with what they bound now.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` naming the field for a bad type or limit.
    @discardableResult
    public func setLimits(_ limits: TaskTypeLimits, for type: String) async throws -> TaskTypeLimitState {
        try Self.checkType(type)
        try limits.validate()
        let state = try await store.setLimits(limits, for: type)
        // A raised limit has room at once: release into it rather than wait for the next sweep.
        _ = try await releaseHeld(type: type)
        return state
    }

    /// `type`'s limits with what they bound now; nil when it has none.
    public func limits(for type: String) async throws -> TaskTypeLimitState? {
        try Self.checkType(type)
        return try await store.limitState(type)
    }

    /// Every type's limits, by type name.
    public func allLimits() async throws -> [TaskTypeLimitState] { try await store.limitStates() }

    /// Lifts `type`'s limits and releases its held tasks (unless the type is paused). Returns false
    /// when it had none.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` for a name that cannot be a task type.
    @discardableResult
    public func removeLimits(for type: String) async throws -> Bool {
        try Self.checkType(type)
        let removed = try await store.removeLimits(for: type)
        _ = try await releaseHeld(type: type)
        return removed
    }

    /// Publishes `type`'s held tasks again, oldest first, as far as it has room; returns how many.
    func releaseHeld(type: String) async throws -> Int {
        var released = 0
        while true {
            let batch = try await store.releaseHeld(type: type, limit: 500)
            if batch.isEmpty { break }
            // A publish that fails is flagged for the reconciler by the publisher, as an enqueue's is.
            await publisher.publish(batch)
            released += batch.count
        }
        return released
    }

    static func checkType(_ type: String) throws {
        guard NewTask.isValidType(type) else {
            throw TaskQueueError(.invalidArgument, "a task type is 1-128 letters, digits, '.', '_', ':' or '-'", field: "type")
        }
    }
}
