import Foundation
import Testing

@testable import TaskQueue

@Suite("Delivery: duplicates, crashes, the reconciler, priority, drain, schedules")
struct DeliveryTests {
    @Test func theSameIDPublishedTwentyTimesRunsOnce() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let id = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 300)).task.id
            for _ in 0..<20 { try await env.publishRaw(id.uuidString) }
            try await env.waitFor(id, .completed)
            try await env.waitForEmptyStream()
            #expect(try await env.queue.executions(of: id).count == 1)
            #expect(log.startCount(id) == 1)
            #expect(log.successCount(id) == 1)
            try await worker.stop()
        }
    }

    @Test func aWorkerThatDiesMidTaskLosesItsLeaseAndTheTaskRunsElsewhere() async throws {
        try await TestEnvironment.with(lease: .seconds(2)) { env in
            let id = try await env.queue.enqueue("noop", payload: Empty()).task.id
            let messages = try await claimAndDie(id, workerID: "dead-worker", env: env)
            // The running attempt has no execution row until it ends; reads show it from the task.
            let running = try await env.queue.executions(of: id)
            #expect(running.map(\.status) == [.started])
            #expect(running.first?.workerID == "dead-worker" && running.first?.attempt == 1)
            #expect(running.first?.finishedAt == nil)

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let done = try await env.waitFor(id, .completed, timeout: .seconds(30))
            #expect(done.attempts == 2)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.count == 2)
            #expect(executions.first?.status == .failed)
            #expect(executions.first?.workerID == "dead-worker")
            #expect(executions.first?.error?.contains("worker dead-worker stopped without finishing") == true)
            #expect(executions.last?.status == .succeeded)
            #expect(log.successCount(id) == 1)
            try await worker.stop()
            _ = messages
        }
    }

    @Test func anAttemptClaimedBeforeExecutionsWereWrittenOnceIsClosedNotDuplicated() async throws {
        try await TestEnvironment.with(lease: .seconds(2)) { env in
            let id = try await env.queue.enqueue("noop", payload: Empty()).task.id
            let messages = try await claimAndDie(id, workerID: "old-worker", env: env)
            // Made into the state a claim before migration 006 left: an open execution row, no
            // attempt start on the task row.
            try await env.queue.pool.withSession { session in
                try session.execute("UPDATE tasks SET attempt_started_at = NULL WHERE id = $1", [id])
                try session.execute(
                    """
                    INSERT INTO task_executions (task_id, attempt, status, worker_id, started_at)
                    VALUES ($1, 1, 'started', 'old-worker', now())
                    """, [id])
            }
            #expect(try await env.queue.executions(of: id).map(\.status) == [.started])

            let worker = env.startWorker(try testRegistry(RunLog()))
            _ = try await env.waitFor(id, .completed, timeout: .seconds(30))
            let executions = try await env.queue.executions(of: id)
            #expect(executions.map(\.attempt) == [1, 2])
            #expect(executions.map(\.status) == [.failed, .succeeded])
            #expect(executions.first?.error?.contains("worker old-worker stopped without finishing") == true)
            #expect(executions.first?.finishedAt != nil)
            try await worker.stop()
            _ = messages
        }
    }

    @Test func anOpenExecutionRowLeftByEarlierCodeIsClosedByTheFinish() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let id = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 800)).task.id
            while log.startCount(id) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            // While the attempt runs, an open row for it appears, as after migration 006 was
            // rolled back and applied again: the finish must close it, not fail on it.
            try await env.queue.pool.withSession { session in
                try session.execute(
                    """
                    INSERT INTO task_executions (task_id, attempt, status, worker_id, started_at)
                    VALUES ($1, 1, 'started', 'earlier-code', now())
                    """, [id])
            }
            try await env.waitFor(id, .completed)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.map(\.status) == [.succeeded])
            #expect(executions.first?.finishedAt != nil)
            try await worker.stop()
        }
    }

    @Test func theReconcilerPublishesACommittedButUnpublishedTask() async throws {
        try await TestEnvironment.with { env in
            // The enqueuer died between INSERT and publish.
            let inserted = try await env.queue.pool.withSession { session in
                try TaskStore.insert([NewTask(type: "noop")], defaultMaxAttempts: 3, session: session)
            }
            let id = try inserted[0].get().task.id
            #expect(try await env.queue.task(id)?.publishedAt == nil)
            #expect(try await env.queue.streamState().work?.messages == 0)

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(confirmAfter: .milliseconds(500)))
            try await env.waitFor(id, .completed)
            #expect(log.successCount(id) == 1)
            try await worker.stop()
        }
    }

    @Test func aTaskWhosePublishFailedIsPublishedAfterTheShortGrace() async throws {
        try await TestEnvironment.with { env in
            // An enqueuer that cannot reach NATS: the row commits, the publish fails and is flagged.
            var offline = env.configuration
            offline.nats = NATSConfiguration(url: "nats://127.0.0.1:1", connectionName: "offline")
            let enqueuer = try await TaskQueue.connect(configuration: offline, logger: env.queue.logger)
            let result = try await enqueuer.enqueue(NewTask(type: "noop"))
            // "published" means the same in the enqueue's answer and in every read: false while
            // the task waits for the reconciler, true once the stream has taken its message.
            #expect(!result.task.isPublished)
            #expect(try await env.queue.task(result.task.id)?.isPublished == false)

            // The confirmation wait is an hour here: only the failure flag gets it published now.
            let reconciler = env.reconciler(env.workerConfiguration(publishGrace: .zero, confirmAfter: .seconds(3600)))
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await reconciler.pass().published == 1)
            #expect(try await env.queue.task(result.task.id)?.publishedAt != nil)
            #expect(try await env.queue.task(result.task.id)?.isPublished == true)
            #expect(try await env.queue.streamState().work?.messages == 1)
        }
    }

    @Test func theReconcilerConfirmsABacklogWithoutCopyingItAndReplacesALostMessage() async throws {
        try await TestEnvironment.with { env in
            let results = try await env.queue.enqueueBatch((0..<50).map { _ in NewTask(type: "noop") })
            #expect(results.allSatisfy { $0.task.isPublished })
            #expect(try await env.queue.streamState().work?.messages == 50)
            // Enqueue does not write the publish back; until a claim or the reconciler sees the
            // message, the task counts as unconfirmed.
            #expect(try await env.queue.task(results[0].task.id)?.publishedAt == nil)
            #expect(try await env.queue.task(results[0].task.id)?.isPublished == true)

            let reconciler = env.reconciler(env.workerConfiguration(lostAfter: .zero, publishGrace: .zero, confirmAfter: .zero))
            try await Task.sleep(for: .milliseconds(20))
            let first = try await reconciler.pass()
            // Published again under the same Nats-Msg-Id: the server keeps one copy and names it.
            #expect(first == ReconcileReport(published: 50))
            #expect(try await env.queue.streamState().work?.messages == 50)
            for result in results { #expect(try await env.queue.task(result.task.id)?.publishedAt != nil) }

            // A broker crash loses one acknowledged message.
            let victim = results[7].task.id
            let stream = try #require(try await env.queue.streamState().work)
            var lostSequence: UInt64?
            for sequence in stream.firstSequence...stream.lastSequence {
                if let message = try await env.queue.nats.message(stream: env.configuration.streamName, sequence: sequence),
                    message.data == Array(victim.postgresText.utf8)
                {
                    lostSequence = sequence
                }
            }
            try await env.queue.nats.deleteMessage(stream: env.configuration.streamName, sequence: try #require(lostSequence))
            try await Task.sleep(for: .milliseconds(20))
            // A first scan slower than 100 ms (a loaded machine) would make the fleet wait 50 times
            // as long for the next turn (the turn-taking test below covers that); not what this test is about.
            _ = try await env.queue.pool.withSession { try $0.execute("UPDATE reconciler_turns SET took = interval '0'") }
            let second = try await reconciler.pass()
            #expect(second.republished == 1)
            #expect(try await env.queue.streamState().work?.messages == 50)

            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            for result in results { try await env.waitFor(result.task.id, .completed) }
            #expect(log.successCount(victim) == 1)
            try await worker.stop()
        }
    }

    @Test func theFleetTakesTurnsAtTheReconcilersFullScans() async throws {
        try await TestEnvironment.with { env in
            let store = env.queue.store
            // The first caller gets the turn; another within the interval does not.
            #expect(try await store.takeTurn(.lost, every: .seconds(60)))
            #expect(try await !store.takeTurn(.lost, every: .seconds(60)))
            // Each scan has its own turn.
            #expect(try await store.takeTurn(.unconfirmed, every: .seconds(60)))
            #expect(try await !store.takeTurn(.unconfirmed, every: .seconds(60)))
            // Once the interval has passed (none here), the next caller gets it.
            #expect(try await store.takeTurn(.lost, every: .zero))
            // A slow scan (2 s) waits 50 times as long as it took, whatever the interval.
            try await store.recordTurn(.lost, took: .seconds(2))
            #expect(try await !store.takeTurn(.lost, every: .zero))
            // A fast one (under 100 ms) waits only its interval.
            try await store.recordTurn(.lost, took: .milliseconds(20))
            #expect(try await store.takeTurn(.lost, every: .zero))

            // A reconciler's pass takes both turns when they are free, so another worker's pass
            // right after skips them.
            _ = try await env.queue.pool.withSession { session in
                try session.execute("UPDATE reconciler_turns SET started_at = '-infinity', took = '0'")
            }
            try await env.reconciler(env.workerConfiguration(lostAfter: .seconds(400), confirmAfter: .seconds(400))).pass()
            #expect(try await !store.takeTurn(.lost, every: .seconds(90)))
            #expect(try await !store.takeTurn(.unconfirmed, every: .seconds(90)))
        }
    }

    @Test func aHandlersSlotIsFreeWhileItsOutcomeWaitsForTheDatabase() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 1))
            // Connect the lock holder first, so taking the lock below is one quick statement.
            let holder = PostgresPool(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL, poolSize: 1, schema: env.name))
            let connection = await holder.acquire()
            let first = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 1500)).task.id
            while log.startCount(first) == 0 { try await Task.sleep(for: .milliseconds(10)) }

            // Hold the first task's row so writing its outcome waits once its handler returns.
            try await connection.withSession { session in
                try session.execute("BEGIN")
                try session.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", [first])
            }
            try #require(log.successCount(first) == 0, "the lock must be held before the first handler returns")
            let second = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 10)).task.id

            // With one slot, the second task can start only because the first handler's slot was
            // given back before its outcome was written.
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(10))
            while log.startCount(second) == 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(log.startCount(second) == 1)
            #expect(log.successCount(first) == 1)
            #expect(try await env.queue.task(first)?.status == .running, "the first outcome should still be waiting")

            try await connection.withSession { try $0.execute("COMMIT") }
            await holder.release(connection)
            try await env.waitFor(first, .completed)
            try await env.waitFor(second, .completed)
            #expect(log.startCount(first) == 1)
            try await worker.stop()
        }
    }

    @Test func aHighPriorityTaskStartsNextUnderALowBacklog() async throws {
        try await TestEnvironment.with { env in
            let lows = try await env.queue.enqueueBatch(
                (0..<150).map { _ in
                    try! NewTask(type: "slow", payload: SlowPayload(ms: 20), priority: .low)
                })
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log), configuration: env.workerConfiguration(concurrency: 2))
            while log.order.count < 20 { try await Task.sleep(for: .milliseconds(10)) }

            var highs: [(id: UUID, startedBefore: Int)] = []
            for _ in 0..<3 {
                let id = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 20), priority: .high).task.id
                highs.append((id, log.order.count))
                try await env.waitFor(id, .completed)
            }
            for high in highs {
                let position = try #require(log.order.firstIndex(of: high.id))
                // At most the slots already running and the one being claimed finish first.
                #expect(position - high.startedBefore <= 3, "high task started \(position - high.startedBefore) starts after it was enqueued")
            }
            // Low priority keeps moving and finishes.
            for low in lows { try await env.waitFor(low.task.id, .completed, timeout: .seconds(60)) }
            try await worker.stop()
        }
    }

    @Test func gracefulDrainFinishesRunningTasksAndReturnsTheRest() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let registry = try testRegistry(log)
            let ids = try await env.queue.enqueueBatch((0..<6).map { _ in try! NewTask(type: "slow", payload: SlowPayload(ms: 1500)) }).map(\.task.id)
            let first = env.startWorker(registry, configuration: env.workerConfiguration(concurrency: 2))
            while log.order.count < 2 { try await Task.sleep(for: .milliseconds(10)) }

            let clock = ContinuousClock()
            let stopStarted = clock.now
            try await first.stop()
            #expect(clock.now - stopStarted < .seconds(5))
            let running = log.order
            #expect(running.count == 2)
            for id in running {
                #expect(try await env.queue.task(id)?.status == .completed)
            }
            for id in ids where !running.contains(id) {
                let task = try await env.queue.task(id)
                #expect(task?.status == .queued)
                #expect(task?.attempts == 0)
            }
            // The unstarted messages were NAK'd, so they come back at once rather than after the
            // 30 s AckWait: a new worker finishes everything well inside that.
            let second = env.startWorker(registry, configuration: env.workerConfiguration(concurrency: 4))
            let restart = clock.now
            for id in ids { try await env.waitFor(id, .completed) }
            #expect(clock.now - restart < .seconds(10))
            for id in ids {
                #expect(try await env.queue.executions(of: id).map(\.status) == [.succeeded])
                #expect(log.successCount(id) == 1)
            }
            try await second.stop()
        }
    }

    @Test func drainInterruptsHandlersPastTheShutdownTimeoutAndRecordsIt() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let registry = try testRegistry(log)
            let id = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 3000), maxAttempts: 1).task.id
            let first = env.startWorker(registry, configuration: env.workerConfiguration(shutdownTimeout: .milliseconds(300)))
            while log.order.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            try await first.stop()

            let interrupted = try #require(try await env.queue.task(id))
            #expect(interrupted.status == .retrying)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.map(\.status) == [.failed])
            #expect(executions.first?.error?.contains("interrupted") == true)

            // The interrupted attempt does not spend the only attempt the task had.
            let second = env.startWorker(registry)
            try await env.waitFor(id, .completed)
            #expect(try await env.queue.executions(of: id).map(\.status) == [.failed, .succeeded])
            try await second.stop()
        }
    }

    @Test func aHandlerThatFinishesDespiteTheForcedStopIsRecordedAsSucceeded() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let registry = try testRegistry(log)
            let id = try await env.queue.enqueue("stubborn", payload: SlowPayload(ms: 1500), maxAttempts: 1).task.id
            let worker = env.startWorker(registry, configuration: env.workerConfiguration(shutdownTimeout: .milliseconds(200)))
            while log.order.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            try await worker.stop()

            // The work was done: it is not run a second time as if it had been interrupted.
            let task = try #require(try await env.queue.task(id))
            #expect(task.status == .completed)
            #expect(try await env.queue.executions(of: id).map(\.status) == [.succeeded])
            #expect(log.successCount(id) == 1)
        }
    }

    @Test func aHandlerPastTheTaskTimeoutIsCutOffAndRetriedLikeAnyFailure() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let registry = try testRegistry(log)
            var configuration = env.workerConfiguration(retry: .exponentialJitter(base: .milliseconds(50), cap: .milliseconds(100)))
            configuration.taskTimeout = .milliseconds(200)
            let slow = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 5000), maxAttempts: 2).task.id
            let quick = try await env.queue.enqueue("slow", payload: SlowPayload(ms: 10), maxAttempts: 1).task.id
            let worker = env.startWorker(registry, configuration: configuration)
            try await env.waitFor(quick, .completed)
            let failed = try await env.waitFor(slow, .failed)
            try await worker.stop()

            #expect(failed.attempts == 2)
            let executions = try await env.queue.executions(of: slow)
            #expect(executions.map(\.status) == [.failed, .failed])
            #expect(executions.allSatisfy { $0.error?.contains("timed out after") == true })
            #expect(log.successCount(slow) == 0)
            #expect(try await env.queue.executions(of: quick).map(\.status) == [.succeeded])
        }
    }

    @Test func aScheduledTaskDoesNotRunBeforeItsTime() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let worker = env.startWorker(try testRegistry(log))
            let result = try await env.queue.enqueue("noop", payload: Empty(), delay: .seconds(2))
            let id = result.task.id
            #expect(result.task.status == .scheduled)
            try await Task.sleep(for: .seconds(1))
            #expect(try await env.queue.task(id)?.status == .scheduled)
            #expect(log.startCount(id) == 0)

            let done = try await env.waitFor(id, .completed)
            let execution = try #require(try await env.queue.executions(of: id).first)
            #expect(execution.startedAt >= done.runAt)
            try await worker.stop()
        }
    }

    @Test func anEarlyCopyOfARetryingTaskWaitsOutTheBackoff() async throws {
        try await TestEnvironment.with { env in
            let log = RunLog()
            let config = env.workerConfiguration(retry: .exponentialJitter(base: .seconds(2), cap: .seconds(2), jitter: 0))
            let worker = env.startWorker(try testRegistry(log), configuration: config)
            let id = try await env.queue.enqueue("flaky", payload: Flaky(failures: 1)).task.id
            try await env.waitFor(id, .retrying)
            // A duplicate arrives during the backoff; it must not start attempt 2 early.
            try await env.publishRaw(id.uuidString)
            try await Task.sleep(for: .milliseconds(800))
            #expect(log.startCount(id) == 1)
            try await env.waitFor(id, .completed)
            let executions = try await env.queue.executions(of: id)
            #expect(executions.count == 2)
            #expect(executions[1].startedAt.timeIntervalSince(executions[0].finishedAt!) >= 1.9)
            try await worker.stop()
        }
    }

    /// A worker that fetches the task's message and claims the task, then dies: no ack, no
    /// outcome. Returns the fetched messages; the caller keeps them so nothing acknowledges them.
    private func claimAndDie(_ id: UUID, workerID: String, env: TestEnvironment) async throws -> [JetStreamMessage] {
        let config = env.configuration
        let dead = try await env.queue.nats.pullSubscribe(
            stream: config.streamName, consumer: config.consumer(for: .normal),
            subject: config.subject(for: .normal))
        defer { dead.close() }
        let messages = try await dead.fetch(batch: 1, noWait: false, timeout: .seconds(5))
        #expect(messages.first?.text == id.postgresText)
        let claim = try await env.queue.store.claim([id], workerID: workerID, lease: config.lease)
        let claimed = if case .claimed = claim[id] { true } else { false }
        try #require(claimed, "claim failed: \(String(describing: claim[id]))")
        return messages
    }
}
