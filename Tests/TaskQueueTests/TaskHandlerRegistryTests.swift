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

    @Test func aDefinitionBringsItsPoliciesAndAnInvalidNameIsRejected() throws {
        let registry = TaskHandlerRegistry()
        let definition = TaskDefinition<Payload>("report.build", priority: .low, maxAttempts: 2, retry: .noRetry, timeout: .seconds(5))
        try registry.register(definition) { _, _ in }
        #expect(registry.entry(for: "report.build")?.timeout == .seconds(5))
        #expect(registry.entry(for: "report.build")?.retry?.decide(RetryContext(error: CancellationError(), attempt: 1, maxAttempts: 2, type: "x")) == .fail)
        #expect(throws: TaskQueueError.self) { try registry.register(definition) { _, _ in } }
        #expect(throws: TaskQueueError.self) { try registry.registerJSON("has space") { _, _ in } }
        let task = try definition.task(Payload(n: 7))
        #expect(task.type == "report.build")
        #expect(task.priority == .low)
        #expect(task.maxAttempts == 2)
        #expect(task.payloadJSON == #"{"n":7}"#)
        #expect(try definition.task(Payload(n: 1), priority: .high).priority == .high)
    }

    @Test func theContextLoggerCarriesTheTaskAndTheWorkersMetadata() {
        var workerLogger = Logger(label: "test")
        workerLogger[metadataKey: LogKey.workerID] = "w-1"
        let id = UUID()
        let context = TaskContext(
            taskID: id, type: "email", priority: .high, attempt: 3, attemptInRun: 2, maxAttempts: 5,
            workerID: "w-1", logger: workerLogger)
        #expect(context.attempt == 3)
        #expect(context.attemptInRun == 2)
        #expect(!context.isLastAttempt)
        let logger = context.logger
        #expect(logger[metadataKey: LogKey.taskID] == .string(id.lowercasedText))
        #expect(logger[metadataKey: LogKey.taskType] == "email")
        #expect(logger[metadataKey: LogKey.attempt]?.description == "3")
        #expect(logger[metadataKey: LogKey.workerID] == "w-1")
    }
}
