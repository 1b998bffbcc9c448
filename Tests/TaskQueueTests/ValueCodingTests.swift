import Foundation
import Testing
@testable import TaskQueue

@Suite struct ValueCodingTests {
    @Test func arrayLiteralsQuoteEveryElement() {
        #expect(PostgresArray(["a", "b c"]).postgresText == #"{"a","b c"}"#)
        #expect(PostgresArray([#"say "hi"\"#, nil]).postgresText == #"{"say \"hi\"\\",NULL}"#)
        #expect(PostgresArray([String]()).postgresText == "{}")
        #expect(PostgresArray([1, 2]).postgresText == #"{"1","2"}"#)
    }

    @Test func timestampsRoundTripInUTC() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let text = PostgresTimestamp.format(date)
        #expect(text.hasSuffix("+00"))
        let parsed = try #require(PostgresTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.000002)
        #expect(PostgresTimestamp.parse("2026-11-23 06:08:13+00") == Date(timeIntervalSince1970: 1_795_414_093))
        #expect(PostgresTimestamp.parse("2026-11-23 06:08:13+02") == nil)
        #expect(PostgresTimestamp.parse("garbage") == nil)
    }

    @Test func cursorsRoundTripAndRejectGarbage() {
        let cursor = TaskCursor(id: UUID())
        #expect(TaskCursor(encoded: cursor.encoded)?.id == cursor.id)
        // A cursor handed out before listings were ordered by id ("<micros>:<id>") still works.
        let old = Data("1795000000500000:\(cursor.id.uuidString.lowercased())".utf8).base64EncodedString()
        #expect(TaskCursor(encoded: old)?.id == cursor.id)
        #expect(TaskCursor(encoded: "not base64!") == nil)
        #expect(TaskCursor(encoded: Data("12:nope".utf8).base64EncodedString()) == nil)
    }

    @Test func newTasksAreValidated() {
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: "")) }
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: "has space")) }
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: String(repeating: "a", count: 129))) }
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: "ok", maxAttempts: 0)) }
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: "ok", maxAttempts: 101)) }
        #expect(throws: TaskQueueError.self) { try TaskQueue.validate(NewTask(type: "ok", payloadJSON: "{nope")) }
        #expect(throws: Never.self) { try TaskQueue.validate(NewTask(type: "email.send:v2-x", payloadJSON: "[1,2]", maxAttempts: 100)) }
    }

    @Test func jsonEqualityIgnoresKeyOrder() throws {
        #expect(try jsonEqual(#"{"a":1,"b":[1,2]}"#, #"{ "b": [1,2], "a": 1 }"#))
        #expect(try !jsonEqual(#"{"a":1}"#, #"{"a":2}"#))
    }
}
