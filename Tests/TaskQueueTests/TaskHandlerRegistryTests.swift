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
}
