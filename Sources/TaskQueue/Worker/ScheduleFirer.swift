import Logging
import Tracing

/// Fires due schedules, every ``WorkerConfiguration/scheduleInterval``, in every worker: each due
/// schedule is taken by one worker at a time (its row locked, the others skip it) and each fire
/// creates one task (its identity is a unique key). Before the first pass it saves the
/// schedules declared in ``WorkerConfiguration/schedules``.
final class ScheduleFirer: Sendable {
    let store: TaskStore
    let publisher: TaskPublisher
    let configuration: WorkerConfiguration
    let defaultMaxAttempts: Int
    let logger: Logger
    let tracer: (any Tracer)?

    /// A fire time found later than this was missed (no worker ran): its schedule's
    /// ``MissedFirePolicy`` decides. Below it, every fire time fires, however late.
    static let missedAfter: Duration = .seconds(5)
    /// Schedules one pass fires at most.
    let batchLimit = 100

    init(
        store: TaskStore, publisher: TaskPublisher, configuration: WorkerConfiguration, defaultMaxAttempts: Int, tracer: (any Tracer)?,
        logger: Logger
    ) {
        self.tracer = tracer
        self.store = store
        self.publisher = publisher
        self.configuration = configuration
        self.defaultMaxAttempts = defaultMaxAttempts
        self.logger = logger
    }

    func run(until stop: Signal) async {
        var declared = configuration.schedules.isEmpty
        repeat {
            do {
                if !declared {
                    try await declare()
                    declared = true
                }
                try await pass()
            } catch {
                logger.warning("schedule pass failed", metadata: [LogKey.error: "\(error)"])
            }
        } while !(await sleep(for: configuration.scheduleInterval, unless: stop))
    }

    /// Saves the declared schedules: new ones are created, changed ones updated, the same ones left.
    func declare() async throws {
        for schedule in configuration.schedules where try await store.saveSchedule(schedule, mode: .declare) {
            logger.info("schedule saved", metadata: ["schedule": "\(schedule.name)", "cron": "\(schedule.cron)"])
        }
    }

    /// One pass: fires what is due and publishes the tasks; returns how many it created.
    @discardableResult
    func pass() async throws -> Int {
        let created = try await store.fireDueSchedules(
            limit: batchLimit, missedAfter: Self.missedAfter, defaultMaxAttempts: defaultMaxAttempts, tracer: tracer)
        // A task whose publish fails is flagged for the reconciler by the publisher, as any enqueue's is.
        await publisher.publish(created)
        if !created.isEmpty { logger.debug("schedules fired", metadata: [LogKey.count: "\(created.count)"]) }
        return created.count
    }
}
