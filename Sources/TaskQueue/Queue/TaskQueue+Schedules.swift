import Foundation

/// Schedules at run time: the library side of the REST API's `/api/v1/schedules`.
extension TaskQueue {
    /// Every schedule, by name, with its next and last fires.
    public func schedules() async throws -> [ScheduleRecord] { try await store.schedules() }

    /// One schedule with its next and last fires; nil when there is none of that name.
    public func schedule(named name: String) async throws -> ScheduleRecord? { try await store.schedule(named: name) }

    /// Creates a schedule; its first fire is the first fire time after now.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleExists` when the name is taken.
    @discardableResult
    public func createSchedule(_ schedule: Schedule) async throws -> ScheduleRecord {
        guard try await save(schedule, .create) else {
            throw TaskQueueError(.scheduleExists, "a schedule named \(schedule.name) exists already")
        }
        return try await stored(schedule.name)
    }

    /// Replaces an existing schedule's definition (its paused state stays). Its next fire time
    /// stays too unless the expression or the time zone changed.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleNotFound`.
    @discardableResult
    public func updateSchedule(_ schedule: Schedule) async throws -> ScheduleRecord {
        guard try await save(schedule, .replace) else { throw Self.noSchedule(schedule.name) }
        return try await stored(schedule.name)
    }

    /// Saves a schedule as code declares it: created when new, updated when it differs, left alone
    /// when the same (what a worker does with ``WorkerConfiguration/schedules`` at start).
    /// Returns true when it created or changed the schedule.
    @discardableResult
    public func declareSchedule(_ schedule: Schedule) async throws -> Bool {
        try await save(schedule, .declare)
    }

    /// Deletes a schedule and its fire records; the tasks it created stay.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleNotFound`.
    public func deleteSchedule(named name: String) async throws {
        guard try await store.deleteSchedule(named: name) else { throw Self.noSchedule(name) }
    }

    /// Stops a schedule firing until it is resumed; a task it created already is not affected.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleNotFound`.
    @discardableResult
    public func pauseSchedule(named name: String) async throws -> ScheduleRecord {
        guard try await store.setSchedulePaused(name, paused: true) else { throw Self.noSchedule(name) }
        return try await stored(name)
    }

    /// Lets a paused schedule fire again, from its next fire time after now: fires it would have
    /// made while paused are not caught up.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleNotFound`.
    @discardableResult
    public func resumeSchedule(named name: String) async throws -> ScheduleRecord {
        guard try await store.setSchedulePaused(name, paused: false) else { throw Self.noSchedule(name) }
        return try await stored(name)
    }

    /// Enqueues one task of the schedule now, outside its timing (paused or not); the fire is
    /// recorded among its last fires as manual.
    ///
    /// - Throws: ``TaskQueueError`` `scheduleNotFound`.
    @discardableResult
    public func triggerSchedule(named name: String) async throws -> TaskRecord {
        guard let (created, target) = try await store.triggerSchedule(named: name, defaultMaxAttempts: configuration.defaultMaxAttempts, tracer: tracer) else {
            throw Self.noSchedule(name)
        }
        var task = created
        // As the row now says: published, or flagged for the reconciler (by the publisher).
        if await publisher.publish([target]).contains(task.id) { task.publishedAt = Date() } else { task.publishFailedAt = Date() }
        return task
    }

    private func save(_ schedule: Schedule, _ mode: TaskStore.ScheduleSave) async throws -> Bool {
        do {
            return try await store.saveSchedule(schedule, mode: mode)
        } catch let error as TaskQueueError where TaskInserter.isRejectedData(error) {
            // Every field but the payload is checked before; jsonb refuses what JSON allows (\u0000).
            throw TaskQueueError(.invalidArgument, "PostgreSQL rejected the schedule: \(error.message)", field: "payload")
        }
    }

    private func stored(_ name: String) async throws -> ScheduleRecord {
        guard let record = try await store.schedule(named: name) else { throw Self.noSchedule(name) }
        return record
    }

    private static func noSchedule(_ name: String) -> TaskQueueError {
        TaskQueueError(.scheduleNotFound, "no schedule is named \(name)")
    }
}
