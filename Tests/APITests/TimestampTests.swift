import Foundation
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
}
