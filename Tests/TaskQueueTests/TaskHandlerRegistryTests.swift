import Foundation
import Logging
import Testing
@testable import TaskQueue

@Suite struct TaskHandlerRegistryTests {
    struct Payload: Codable, Sendable { var n: Int }

    @Test func aDuplicateNameIsRejected() throws {
        let registry = TaskHandlerRegistry()
        try registry.register("email", payload: Payload.self) { _, _ in }
        #expect(throws: TaskQueueError.self) {
            try registry.registerJSON("email") { _, _ in }
        }
        #expect(registry.types == ["email"])
    }

    @Test func theContextLoggerCarriesTheTaskAndTheWorkersMetadata() {
        var workerLogger = Logger(label: "test")
        workerLogger[metadataKey: LogKey.workerID] = "w-1"
        let id = UUID()
        let context = TaskContext(taskID: id, type: "email", priority: .high, attempt: 3, maxAttempts: 5, workerID: "w-1", logger: workerLogger)
        let logger = context.logger
        #expect(logger[metadataKey: LogKey.taskID] == .string(id.lowercasedText))
        #expect(logger[metadataKey: LogKey.taskType] == "email")
        #expect(logger[metadataKey: LogKey.attempt]?.description == "3")
        #expect(logger[metadataKey: LogKey.workerID] == "w-1")
    }
}
