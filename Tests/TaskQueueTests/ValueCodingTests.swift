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
        let text = Timestamp.postgresText(date)
        #expect(text.hasSuffix("+00"))
        let parsed = try #require(PostgresTimestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.000002)
        #expect(PostgresTimestamp.parse("2026-11-23 06:08:13+00") == Date(timeIntervalSince1970: 1_795_414_093))
        #expect(PostgresTimestamp.parse("2026-11-23 06:08:13+02") == nil)
        #expect(PostgresTimestamp.parse("garbage") == nil)
    }

    @Test func calendarDatesMatchTheCLibrary() {
        // Date(utcYear:...) does timegm's arithmetic itself; it must agree with it everywhere,
        // leap days, century years and days past the end of a month included.
        var generator = SystemRandomNumberGenerator()
        var samples: [(Int, Int, Int, Int, Int, Int)] = [
            (1970, 1, 1, 0, 0, 0), (2000, 2, 29, 23, 59, 59), (1900, 3, 1, 0, 0, 0), (2100, 2, 28, 12, 0, 0),
            (2024, 12, 31, 23, 59, 60), (2030, 2, 31, 1, 2, 3), (1969, 12, 31, 23, 59, 59), (1601, 1, 1, 0, 0, 0),
        ]
        for _ in 0..<2000 {
            samples.append(
                (
                    Int.random(in: 1600...2400, using: &generator), Int.random(in: 1...12, using: &generator),
                    Int.random(in: 1...31, using: &generator), Int.random(in: 0...23, using: &generator),
                    Int.random(in: 0...59, using: &generator), Int.random(in: 0...60, using: &generator)
                ))
        }
        for (year, month, day, hour, minute, second) in samples {
            var parts = tm()
            parts.tm_year = Int32(year - 1900)
            parts.tm_mon = Int32(month - 1)
            parts.tm_mday = Int32(day)
            parts.tm_hour = Int32(hour)
            parts.tm_min = Int32(minute)
            parts.tm_sec = Int32(second)
            let expected = Double(timegm(&parts))
            let date = Date(utcYear: year, month: month, day: day, hour: hour, minute: minute, second: second)
            #expect(date.timeIntervalSince1970 == expected, "\(year)-\(month)-\(day) \(hour):\(minute):\(second)")
        }
        #expect(Date(utcYear: 2026, month: 11, day: 23, hour: 6, minute: 8, second: 13, fraction: 0.25).timeIntervalSince1970 == 1_795_414_093.25)
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
        #expect(throws: TaskQueueError.self) { try NewTask(type: "").validate() }
        #expect(throws: TaskQueueError.self) { try NewTask(type: "has space").validate() }
        #expect(throws: TaskQueueError.self) { try NewTask(type: String(repeating: "a", count: 129)).validate() }
        #expect(throws: TaskQueueError.self) { try NewTask(type: "ok", maxAttempts: 0).validate() }
        #expect(throws: TaskQueueError.self) { try NewTask(type: "ok", maxAttempts: 101).validate() }
        #expect(throws: TaskQueueError.self) { try NewTask(type: "ok", payloadJSON: "{nope").validate() }
        #expect(throws: Never.self) { try NewTask(type: "email.send:v2-x", payloadJSON: "[1,2]", maxAttempts: 100).validate() }
    }

    @Test func validationNamesTheFieldAtFault() {
        func field(_ task: NewTask) -> String? {
            do { try task.validate() } catch let error as TaskQueueError { return error.field } catch { return "?" }
            return nil
        }
        #expect(field(NewTask(type: "has space")) == "type")
        #expect(field(NewTask(type: "ok", maxAttempts: 0)) == "max_attempts")
        #expect(field(NewTask(type: "ok", idempotencyKey: "")) == "idempotency_key")
        #expect(field(NewTask(type: "ok", idempotencyKey: String(repeating: "k", count: 256))) == "idempotency_key")
        #expect(field(NewTask(type: "ok", payloadJSON: "{nope")) == "payload")
        #expect(field(NewTask(type: "ok")) == nil)
    }

    @Test func jsonEqualityIgnoresKeyOrder() throws {
        #expect(try jsonEqual(#"{"a":1,"b":[1,2]}"#, #"{ "b": [1,2], "a": 1 }"#))
        #expect(try !jsonEqual(#"{"a":1}"#, #"{"a":2}"#))
    }
}
