import Foundation
import Testing

@testable import TaskQueue

@Suite("Provisioning and migrations")
struct ProvisioningTests {
    @Test func provisioningIsIdempotentAndAppliesTheLayout() async throws {
        try await TestEnvironment.with(lease: .seconds(7)) { env in
            try await env.queue.provision()
            try await env.queue.provision()
            let state = try await env.queue.streamState()
            let work = try #require(state.work)
            #expect(work.retention == "workqueue")
            #expect(work.storage == "file")
            #expect(Set(work.subjects) == Set(TaskPriority.allCases.map(env.configuration.subject(for:))))
            #expect(state.deadLetters?.retention == "limits")
            #expect(state.deadLetters?.subjects == [env.configuration.deadLetterSubject])
            #expect(state.consumers.map(\.name) == ["high", "low", "normal"].map { "\(env.configuration.consumerName)-\($0)" })
            for consumer in state.consumers {
                #expect(consumer.ackWaitSeconds == 7)
                #expect(consumer.maxAckPending == env.configuration.maxAckPending)
                #expect(consumer.filterSubject.hasSuffix(consumer.name.split(separator: "-").last.map(String.init) ?? "?"))
            }
        }
    }

    @Test func aChangedLeaseUpdatesTheConsumers() async throws {
        try await TestEnvironment.with(lease: .seconds(7)) { env in
            var changed = env.configuration
            changed.lease = .seconds(11)
            let other = TaskQueue(configuration: changed, pool: env.queue.pool, nats: env.queue.nats, middleware: [], logger: env.queue.logger)
            try await other.provision()
            #expect(try await env.queue.streamState().consumers.allSatisfy { $0.ackWaitSeconds == 11 })
        }
    }

    @Test func aStreamWithTheWrongRetentionIsRefusedNotUsed() async throws {
        try await TestEnvironment.with { env in
            try await env.queue.nats.deleteStream(env.configuration.streamName)
            try await env.queue.nats.ensureStream(
                StreamSpec(
                    name: env.configuration.streamName, subjects: ["\(env.name).other"], workQueue: false,
                    replicas: 1, duplicateWindow: .seconds(120), maxAge: .zero
                ))
            do {
                try await env.queue.provision()
                Issue.record("provisioning accepted a limits-retention work stream")
            } catch let error as TaskQueueError {
                #expect(error.code == .incompatibleStream)
                #expect(error.message.contains("workqueue"))
            }
        }
    }

    @Test func migrationsStartedTogetherApplyOnce() async throws {
        let schema = "t_migrate_\(UUID().uuidString.prefix(8).lowercased())"
        let pools = (0..<4).map { _ in PostgresPool(configuration: PostgresConfiguration(url: TestEnvironment.databaseURL, poolSize: 1, schema: schema)) }
        let migrations = try Migrator.load(from: TestEnvironment.migrations)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for pool in pools {
                group.addTask { try await Migrator.migrate(migrations, pool: pool, schema: schema, logger: .init(label: "test")) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.sorted() == migrations.map(\.version))
        let rows = try await pools[0].withSession { try $0.execute("SELECT version FROM schema_migrations") }
        #expect(rows.rows.count == migrations.count)

        // Every down file undoes its up file: all down in reverse order, then all up again.
        try await pools[0].withSession { session in
            for migration in migrations.reversed() {
                try session.executeScript(migration.down)
                try session.execute("DELETE FROM schema_migrations WHERE version = $1", [migration.version])
            }
            let left = try session.execute("SELECT count(*) AS n FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'", [schema])
            #expect(try left.rows.first?.int("n") == 0)
        }
        let reapplied = try await Migrator.migrate(migrations, pool: pools[0], schema: schema, logger: .init(label: "test"))
        #expect(reapplied == migrations.map(\.version))
        try await pools[0].withSession { try $0.execute("DROP SCHEMA \"\(schema)\" CASCADE") }
    }
}
