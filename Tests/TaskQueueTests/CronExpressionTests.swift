import Foundation
import Testing

@testable import TaskQueue

@Suite("Cron expressions: parsing, next fire times, time zones")
struct CronExpressionTests {
    let utc = TimeZone(identifier: "UTC")!

    /// A UTC instant from "yyyy-MM-dd HH:mm:ss".
    func at(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = utc
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)!
    }

    func fires(_ expression: String, after start: String, zone: String = "UTC", count: Int = 3) throws -> [Date] {
        try CronExpression(expression).nextFires(after: at(start), in: TimeZone(identifier: zone)!, count: count)
    }

    @Test func fieldsListsRangesAndSteps() throws {
        #expect(try fires("*/15 * * * *", after: "2026-03-01 10:07:00") == [at("2026-03-01 10:15:00"), at("2026-03-01 10:30:00"), at("2026-03-01 10:45:00")])
        #expect(try fires("0 9-17/4 * * *", after: "2026-03-01 10:00:00") == [at("2026-03-01 13:00:00"), at("2026-03-01 17:00:00"), at("2026-03-02 09:00:00")])
        #expect(try fires("5,35 2 * * *", after: "2026-03-01 02:05:00", count: 2) == [at("2026-03-01 02:35:00"), at("2026-03-02 02:05:00")])
        // Strictly after: a start on a fire time gives the next one.
        #expect(try fires("@hourly", after: "2026-03-01 10:00:00", count: 1) == [at("2026-03-01 11:00:00")])
        #expect(try fires("@daily", after: "2026-12-31 23:59:59", count: 1) == [at("2027-01-01 00:00:00")])
        #expect(try fires("@weekly", after: "2026-03-04 12:00:00", count: 1) == [at("2026-03-08 00:00:00")])  // a Sunday
        #expect(try fires("@monthly", after: "2026-01-31 00:00:00", count: 2) == [at("2026-02-01 00:00:00"), at("2026-03-01 00:00:00")])
    }

    @Test func namesSundayAsSevenAndTheDayRule() throws {
        // 2026-03-02 is a Monday.
        #expect(try fires("0 8 * * MON-FRI", after: "2026-03-06 09:00:00", count: 1) == [at("2026-03-09 08:00:00")])
        #expect(try fires("0 0 * JAN,jul 7", after: "2026-03-01 00:00:00", count: 1) == [at("2026-07-05 00:00:00")])
        // Day of month and day of week both restricted: either matches.
        #expect(try fires("0 0 13 * 5", after: "2026-03-01 00:00:00", count: 2) == [at("2026-03-06 00:00:00"), at("2026-03-13 00:00:00")])
        // The 29th of February, years ahead.
        #expect(try fires("0 0 29 2 *", after: "2026-03-01 00:00:00", count: 1) == [at("2028-02-29 00:00:00")])
    }

    @Test func intervalsCountFromTheEpoch() throws {
        #expect(try fires("@every 30s", after: "2026-03-01 10:00:10") == [at("2026-03-01 10:00:30"), at("2026-03-01 10:01:00"), at("2026-03-01 10:01:30")])
        #expect(try fires("@every 1h30m", after: "2026-03-01 00:00:00", count: 1) == [at("2026-03-01 01:30:00")])
        #expect(try CronExpression("@every 2d").nextFire(after: at("2026-03-01 12:00:00"), in: utc) == at("2026-03-02 00:00:00"))
    }

    @Test func timeZonesAndDaylightSaving() throws {
        // 09:00 in New York is 14:00 UTC in winter, 13:00 in summer.
        #expect(
            try fires("0 9 * * *", after: "2026-03-06 00:00:00", zone: "America/New_York", count: 3) == [
                at("2026-03-06 14:00:00"), at("2026-03-07 14:00:00"), at("2026-03-08 13:00:00"),
            ])
        // 2026-03-08 02:30 does not exist in New York (02:00 -> 03:00): skipped, not moved.
        #expect(
            try fires("30 2 * * *", after: "2026-03-07 00:00:00", zone: "America/New_York", count: 2) == [
                at("2026-03-07 07:30:00"), at("2026-03-09 06:30:00"),
            ])
        // 2026-11-01 01:30 happens twice in New York (EDT, then EST): it fires once, the first time.
        #expect(
            try fires("30 1 * * *", after: "2026-10-31 12:00:00", zone: "America/New_York", count: 2) == [
                at("2026-11-01 05:30:00"), at("2026-11-02 06:30:00"),
            ])
        // Every 15 minutes through the repeated hour: the first pass only (no fire twice at 01:15).
        let overlap = try fires("*/15 1 * * *", after: "2026-11-01 04:50:00", zone: "America/New_York", count: 5)
        #expect(
            overlap == [at("2026-11-01 05:00:00"), at("2026-11-01 05:15:00"), at("2026-11-01 05:30:00"), at("2026-11-01 05:45:00"), at("2026-11-02 06:00:00")])
        // A zone east of UTC: midnight in Tokyo is 15:00 UTC the day before.
        #expect(try fires("@daily", after: "2026-03-01 16:00:00", zone: "Asia/Tokyo", count: 1) == [at("2026-03-02 15:00:00")])
    }

    @Test(arguments: [
        ("", "expected 5 fields"), ("* * * *", "expected 5 fields"), ("60 * * * *", "minute field"), ("* 24 * * *", "hour field"),
        ("* * 0 * *", "day of month field"), ("* * * 13 *", "month field"), ("* * * * 8", "day of week field"),
        ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"), ("a * * * *", "minute field"), ("* * * FOO *", "month field"),
        ("1,,2 * * * *", "minute field"), ("0 0 30 2 *", "never fires"), ("@sometimes", "unknown macro"),
        ("@every", "@every needs"), ("@every 0s", "at least 1 second"), ("@every 10", "no unit"), ("@every 5x", "units"),
    ])
    func badExpressionsSayWhatIsWrong(expression: String, expected: String) {
        #expect {
            try CronExpression(expression)
        } throws: { error in
            (error as? CronExpressionError)?.message.contains(expected) == true
        }
    }
}
