import Foundation
import Testing

@testable import TaskQueue

@Suite struct DeadLetterTests {
    @Test func aDeadLetterEmbedsThePayloadAndRoundTrips() throws {
        let letter = DeadLetter(
            taskID: UUID(), type: "email", priority: .high, attempts: 3, lastError: "smtp down",
            failedAt: Date(timeIntervalSince1970: 1_800_000_000.25), payload: #"{"to":"a@b.c"}"#)
        let data = try letter.encoded()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["task_id"] as? String == letter.taskID.uuidString.lowercased())
        #expect((object["payload"] as? [String: String]) == ["to": "a@b.c"])
        let decoded = try DeadLetter.decode(Array(data))
        #expect(decoded.taskID == letter.taskID)
        #expect(decoded.attempts == 3)
        #expect(abs(decoded.failedAt.timeIntervalSince(letter.failedAt)) < 0.001)
        #expect(try jsonEqual(decoded.payload, letter.payload))
        #expect(throws: (any Error).self) { try DeadLetter.decode(Array(#"{"hello":1}"#.utf8)) }
    }
}
