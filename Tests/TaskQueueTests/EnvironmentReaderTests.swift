import Testing

@testable import TaskQueue

@Suite struct EnvironmentReaderTests {
    @Test func durationsAcceptTheUsualUnits() {
        #expect(EnvironmentReader.parseDuration("500ms") == .milliseconds(500))
        #expect(EnvironmentReader.parseDuration("2s") == .seconds(2))
        #expect(EnvironmentReader.parseDuration("7d") == .seconds(7 * 86_400))
        #expect(EnvironmentReader.parseDuration("1.5s") == .milliseconds(1500))
        #expect(EnvironmentReader.parseDuration("1m") == .seconds(60))
        #expect(EnvironmentReader.parseDuration("1h") == .seconds(3600))
        #expect(EnvironmentReader.parseDuration("3") == .seconds(3))
        #expect(EnvironmentReader.parseDuration("soon") == nil)
        #expect(EnvironmentReader.parseDuration("-1s") == nil)
        #expect(EnvironmentReader.parseDuration("ms") == nil)
    }

    @Test func aBadValueNamesTheVariable() throws {
        let env = EnvironmentReader(["WORKER_CONCURRENCY": "lots", "WORKER_POLL_TIMEOUT": "2 fortnights", "N": "0"])
        #expect(throws: EnvironmentReader.InvalidSetting.self) { try env.int("WORKER_CONCURRENCY", default: 1, range: 1...100) }
        do {
            _ = try env.duration("WORKER_POLL_TIMEOUT", default: .seconds(2))
            Issue.record("accepted a bad duration")
        } catch let error as EnvironmentReader.InvalidSetting {
            #expect(error.variable == "WORKER_POLL_TIMEOUT")
            #expect(error.description.hasPrefix("WORKER_POLL_TIMEOUT:"))
        }
        #expect(throws: EnvironmentReader.InvalidSetting.self) { try env.int("N", default: 1, range: 1...100) }
        #expect(try env.int("UNSET", default: 7, range: 1...100) == 7)
    }

    @Test func theQueueConfigurationNeedsADatabaseURL() throws {
        #expect(throws: EnvironmentReader.InvalidSetting.self) {
            try TaskQueueConfiguration.fromEnvironment(EnvironmentReader([:]), connectionName: "x")
        }
        let config = try TaskQueueConfiguration.fromEnvironment(
            EnvironmentReader([
                "DATABASE_URL": "postgres://u@h/db", "NATS_URL": "nats://a:4222, nats://b:4222", "NATS_STREAM_NAME": "JOBS",
            ]), connectionName: "x")
        #expect(config.nats.urls == ["nats://a:4222", "nats://b:4222"])
        #expect(config.streamName == "JOBS")
        #expect(config.deadLetterStreamName == "JOBS_DLQ")
        #expect(config.runMigrations)
        let deployStep = try TaskQueueConfiguration.fromEnvironment(EnvironmentReader(["DATABASE_URL": "x", "DB_MIGRATE": "false"]), connectionName: "x")
        #expect(!deployStep.runMigrations)
        #expect(throws: EnvironmentReader.InvalidSetting.self) {
            try TaskQueueConfiguration.fromEnvironment(EnvironmentReader(["DATABASE_URL": "x", "DB_MIGRATE": "later"]), connectionName: "x")
        }
        #expect(throws: EnvironmentReader.InvalidSetting.self) {
            try TaskQueueConfiguration.fromEnvironment(EnvironmentReader(["DATABASE_URL": "x", "NATS_STREAM_NAME": "a.b"]), connectionName: "x")
        }
    }
}
