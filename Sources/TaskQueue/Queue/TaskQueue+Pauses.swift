import Foundation

/// Pausing and resuming work across the fleet: the library side of the REST API's
/// `/api/v1/queues/{priority}/pause|resume` and `/api/v1/types/{type}/pause|resume`.
///
/// Workers read the pauses every second. A paused priority's messages are not fetched (those
/// fetched already go back to the stream); a task of a paused type is held when a worker claims
/// it. Either way no attempt is spent, tasks keep their order and running tasks finish normally.
extension TaskQueue {
    /// What is paused now.
    public func pauses() async throws -> TaskPauses { try await store.pauses() }

    /// Stops workers fetching `priority`'s tasks until it is resumed. Returns false when it was
    /// paused already.
    @discardableResult
    public func pause(_ priority: TaskPriority) async throws -> Bool {
        try await store.setPaused(kind: "priority", name: priority.rawValue, paused: true)
    }

    /// Lets workers fetch `priority`'s tasks again (within about a second). Returns false when it
    /// was not paused.
    @discardableResult
    public func resume(_ priority: TaskPriority) async throws -> Bool {
        try await store.setPaused(kind: "priority", name: priority.rawValue, paused: false)
    }

    /// Holds the tasks of `type` as workers come to them, without an attempt, until it is resumed.
    /// Returns false when it was paused already.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` for a name that cannot be a task type.
    @discardableResult
    public func pause(type: String) async throws -> Bool {
        try Self.checkType(type)
        return try await store.setPaused(kind: "type", name: type, paused: true)
    }

    /// Resumes `type` and publishes its held tasks again, oldest first (as far as its limits allow,
    /// if it has any); returns how many it released. Resuming a type that is not paused still
    /// releases any held task of it.
    ///
    /// - Throws: ``TaskQueueError`` `invalidArgument` for a name that cannot be a task type.
    @discardableResult
    public func resume(type: String) async throws -> Int {
        try Self.checkType(type)
        _ = try await store.setPaused(kind: "type", name: type, paused: false)
        return try await releaseHeld(type: type)
    }

    /// Tasks held because their type is paused or over a limit.
    public func heldTaskCount() async throws -> Int { try await store.heldCount() }
}
