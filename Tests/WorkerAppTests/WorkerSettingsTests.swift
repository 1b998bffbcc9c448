import Testing

@testable import TaskQueue
@testable import WorkerApp

@Suite struct WorkerSettingsTests {
    @Test func retentionComesFromTheEnvironmentAndZeroKeepsForever() throws {
        let defaults = try WorkerSettings.fromEnvironment(EnvironmentReader(["DATABASE_URL": "postgres://u@h/db"]))
        #expect(defaults.worker.retention == RetentionPolicy())
        #expect(defaults.worker.retention.completed == .seconds(7 * 86_400))
        #expect(defaults.worker.retention.failed == .seconds(30 * 86_400))
        let set = try WorkerSettings.fromEnvironment(
            EnvironmentReader([
                "DATABASE_URL": "postgres://u@h/db", "TASK_RETENTION_COMPLETED": "12h", "TASK_RETENTION_FAILED": "0",
                "TASK_RETENTION_CANCELLED": "1d", "WORKER_PRUNE_INTERVAL": "30s",
            ]))
        #expect(set.worker.retention == RetentionPolicy(completed: .seconds(12 * 3600), failed: nil, cancelled: .seconds(86_400)))
        #expect(set.worker.pruneInterval == .seconds(30))
        #expect(throws: EnvironmentReader.InvalidSetting.self) {
            try WorkerSettings.fromEnvironment(EnvironmentReader(["DATABASE_URL": "x", "TASK_RETENTION_COMPLETED": "a week"]))
        }
    }
}
