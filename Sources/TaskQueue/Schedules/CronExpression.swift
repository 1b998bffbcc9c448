import Foundation

/// When a schedule fires: a standard 5-field cron expression (minute, hour, day of month, month,
/// day of week), a macro (`@hourly`, `@daily`, ...) or a fixed interval (`@every 30s`).
///
/// Fields take `*`, numbers, ranges (`1-5`), lists (`1,15`) and steps (`*/10`, `0-30/5`); months
/// and days of the week also take their English three-letter names (`JAN`, `MON`), and Sunday is
/// 0 or 7. When both the day of month and the day of week are restricted, a day matching either
/// fires, as in every cron. Intervals are whole seconds (`30s`, `5m`, `1h30m`, `1d`) counted from
/// the Unix epoch, so every process computes the same fire times.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let description: String
    let timing: Timing

    enum Timing: Sendable, Hashable {
        case fields(Fields)
        case every(seconds: Int64)
    }

    /// The set of values each field allows, as bits.
    struct Fields: Sendable, Hashable {
        var minutes: UInt64 = 0
        var hours: UInt64 = 0
        var days: UInt64 = 0
        var months: UInt64 = 0
        var weekdays: UInt64 = 0
        var daysRestricted = false
        var weekdaysRestricted = false

        func matches(year: Int, month: Int, day: Int, weekday: Int) -> Bool {
            guard months & (1 << month) != 0 else { return false }
            let dayMatches = days & (1 << day) != 0
            let weekdayMatches = weekdays & (1 << weekday) != 0
            switch (daysRestricted, weekdaysRestricted) {
            case (true, true): return dayMatches || weekdayMatches
            case (true, false): return dayMatches
            case (false, true): return weekdayMatches
            case (false, false): return true
            }
        }
    }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`; throws a ``CronExpressionError`` naming the part that is wrong.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        description = trimmed
        let lowered = trimmed.lowercased()
        if lowered.hasPrefix("@every") {
            timing = .every(seconds: try Self.parseInterval(String(trimmed.dropFirst("@every".count))))
            return
        }
        var source = trimmed
        if trimmed.hasPrefix("@") {
            guard let expanded = Self.macros[lowered] else {
                throw CronExpressionError("unknown macro \(trimmed): use @yearly, @monthly, @weekly, @daily, @hourly or @every <interval>")
            }
            source = expanded
        }
        let parts = source.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw CronExpressionError("expected 5 fields (minute hour day-of-month month day-of-week), found \(parts.count)")
        }
        var fields = Fields()
        fields.minutes = try Self.parseField(parts[0], name: "minute", range: 0...59)
        fields.hours = try Self.parseField(parts[1], name: "hour", range: 0...23)
        fields.days = try Self.parseField(parts[2], name: "day of month", range: 1...31)
        fields.months = try Self.parseField(parts[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        var weekdays = try Self.parseField(parts[4], name: "day of week", range: 0...7, names: Self.weekdayNames, firstName: 0)
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays & ~(1 << 7)) | 1 }  // 7 is Sunday too
        fields.weekdays = weekdays
        fields.daysRestricted = !parts[2].hasPrefix("*")
        fields.weekdaysRestricted = !parts[4].hasPrefix("*")
        timing = .fields(fields)
        let probe = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01: leap years ahead
        guard nextFire(after: probe, in: TimeZone(identifier: "UTC")!) != nil else {
            throw CronExpressionError("\(trimmed) never fires (no month has that day)")
        }
    }

    /// The first fire time strictly after `date`, with wall-clock fields read in `zone`. A local
    /// time that does not exist (skipped by a daylight-saving change) does not fire; one that
    /// occurs twice (the clock turned back) fires once, at its first occurrence.
    public func nextFire(after date: Date, in zone: TimeZone) -> Date? {
        switch timing {
        case .every(let seconds):
            let now = Int64(date.timeIntervalSince1970.rounded(.down))
            return Date(timeIntervalSince1970: TimeInterval((now / seconds + 1) * seconds))
        case .fields(let fields):
            let after = date.timeIntervalSince1970
            let wallNow = Int64(after.rounded(.down)) + Int64(zone.secondsFromGMT(for: date))
            // From the day before (a changing offset may put the next fire on it), for 8 years:
            // long enough for the 29th of February.
            let firstDay = wallNow / 86_400 - 1
            for day in firstDay..<(firstDay + 366 * 8 + 2) {
                let (year, month, dayOfMonth) = Self.civil(fromDays: day)
                let weekday = Int(((day % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
                guard fields.matches(year: year, month: month, day: dayOfMonth, weekday: weekday) else { continue }
                for hour in 0..<24 where fields.hours & (1 << hour) != 0 {
                    let hourStart = day * 86_400 + Int64(hour) * 3_600
                    if hourStart + 3_600 < wallNow - 86_400 { continue }
                    for minute in 0..<60 where fields.minutes & (1 << minute) != 0 {
                        if let instant = Self.instant(wall: hourStart + Int64(minute) * 60, in: zone), instant > after {
                            return Date(timeIntervalSince1970: instant)
                        }
                    }
                }
            }
            return nil
        }
    }

    /// The next `count` fire times after `date`.
    public func nextFires(after date: Date, in zone: TimeZone, count: Int) -> [Date] {
        var fires: [Date] = []
        var cursor = date
        while fires.count < count, let next = nextFire(after: cursor, in: zone) {
            fires.append(next)
            cursor = next
        }
        return fires
    }

    /// The instant a local wall-clock time (seconds since 1970-01-01 00:00 local) stands for: the
    /// earlier of two when the clock was turned back, nil when the clock skipped it.
    static func instant(wall: Int64, in zone: TimeZone) -> TimeInterval? {
        let offsets = Set([-86_400, 86_400].map { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall + $0))) })
        var best: TimeInterval?
        for offset in offsets {
            let candidate = TimeInterval(wall - Int64(offset))
            if zone.secondsFromGMT(for: Date(timeIntervalSince1970: candidate)) == offset {
                best = min(best ?? candidate, candidate)
            }
        }
        return best
    }

    /// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01 (proleptic Gregorian).
    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }

    private static func parseField(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0) throws -> UInt64 {
        func value(_ token: Substring) throws -> Int {
            if let number = Int(token) {
                guard range.contains(number) else {
                    throw CronExpressionError("\(name) field: \(number) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                return number
            }
            if let index = names.firstIndex(of: token.uppercased()) { return index + firstName }
            throw CronExpressionError("\(name) field: \(token) is not a number\(names.isEmpty ? "" : " or a name")")
        }
        var bits: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2, !stepParts[0].isEmpty else { throw CronExpressionError("\(name) field: \(part) is not valid") }
            var step = 1
            if stepParts.count == 2 {
                guard let parsed = Int(stepParts[1]), parsed > 0 else {
                    throw CronExpressionError("\(name) field: step \(stepParts[1]) must be a positive number")
                }
                step = parsed
            }
            var low = range.lowerBound
            var high = range.upperBound
            if stepParts[0] != "*" {
                let bounds = stepParts[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, bounds.allSatisfy({ !$0.isEmpty }) else {
                    throw CronExpressionError("\(name) field: \(part) is not valid")
                }
                low = try value(bounds[0])
                // `5/15` means from 5 to the end, every 15; a lone `5` is just 5.
                high = bounds.count == 2 ? try value(bounds[1]) : (stepParts.count == 2 ? range.upperBound : low)
                guard low <= high else { throw CronExpressionError("\(name) field: range \(part) runs backwards") }
            }
            for bit in stride(from: low, through: high, by: step) { bits |= 1 << bit }
        }
        return bits
    }

    private static func parseInterval(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        var total: Int64 = 0
        var digits = ""
        guard !trimmed.isEmpty else { throw CronExpressionError("@every needs an interval such as 30s, 5m or 1h30m") }
        for character in trimmed {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if let unit = units[character], let number = Int64(digits), number <= 1_000_000 {
                total += number * unit
                digits = ""
            } else {
                throw CronExpressionError("@every \(trimmed): an interval is numbers with units s, m, h or d, such as 30s or 1h30m")
            }
        }
        guard digits.isEmpty else { throw CronExpressionError("@every \(trimmed): \(digits) has no unit (s, m, h or d)") }
        guard total >= 1 else { throw CronExpressionError("@every \(trimmed): the interval must be at least 1 second") }
        return total
    }
}

/// A cron expression that cannot be parsed; `message` says which part is wrong.
public struct CronExpressionError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the field.
    public let message: String

    init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
