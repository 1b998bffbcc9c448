import Foundation
import TaskQueue
import Testing

@testable import APIApp

@Suite struct TimestampTests {
    @Test func rfc3339TimestampsParse() {
        #expect(CreateTaskRequest.parseTimestamp("2030-01-01T00:00:00Z") == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(CreateTaskRequest.parseTimestamp("2030-01-01T00:00:00.5Z") == Date(timeIntervalSince1970: 1_893_456_000.5))
        #expect(CreateTaskRequest.parseTimestamp("2030-01-01T02:00:00+02:00") == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(CreateTaskRequest.parseTimestamp("2029-12-31T23:00:00-01:00") == Date(timeIntervalSince1970: 1_893_456_000))
        for bad in ["2030-01-01", "2030-01-01T00:00:00", "2030-13-01T00:00:00Z", "2030-01-01T00:00:00.Z", "tomorrow", "2030-01-01T00:00:00Zjunk"] {
            #expect(CreateTaskRequest.parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_893_456_000)) == "2030-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_893_456_000.1239)) == "2030-01-01T00:00:00.123Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_893_456_000.9996)) == "2030-01-01T00:00:00.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400.25)) == "2000-02-29T00:00:00.250Z")
        #expect(JSONValue.timestamp(Date(timeIntervalSince1970: 1_893_456_000)).bytes == Array(#""2030-01-01T00:00:00.000Z""#.utf8))
        // What we write, our own parser reads back.
        let now = Date()
        let parsed = CreateTaskRequest.parseTimestamp(Timestamp.format(now))
        #expect(parsed.map { abs($0.timeIntervalSince(now)) < 0.001 } == true)
    }
}
