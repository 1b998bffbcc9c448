import Foundation

/// Dates as text, in UTC: the one writer behind every timestamp TaskFlow prints or sends.
package enum Timestamp {
    /// RFC 3339 in UTC with milliseconds (`2030-01-01T12:00:00.000Z`): the API's one format, also
    /// the logs' and js-info's. The fraction is cut, not rounded, so a time never shows later than it was.
    package static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = milliseconds.floorDivided(by: 1000)
        return write(seconds: seconds, fraction: Int(milliseconds - seconds * 1000), fractionDigits: 3, separator: "T", zone: "Z")
    }

    /// `timestamptz` text with microseconds, as a session in UTC prints it
    /// (`2026-11-23 06:08:13.123456+00`): how dates travel to PostgreSQL as parameters.
    static func postgresText(_ date: Date) -> String {
        let seconds = floor(date.timeIntervalSince1970)
        let micros = Int((date.timeIntervalSince1970 - seconds) * 1_000_000)
        return write(seconds: Int64(seconds), fraction: micros, fractionDigits: 6, separator: " ", zone: "+00")
    }

    /// Writes the calendar fields straight into the string's storage: one allocation per timestamp
    /// (an API response carries five of them, and per-field arrays showed in the API's profile).
    /// Numbers are zero-padded to at least their width, as `printf`'s `%0Nd` does.
    private static func write(seconds: Int64, fraction: Int, fractionDigits: Int, separator: Unicode.Scalar, zone: String) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        // A year of up to 11 characters, 10 more digits, 6 punctuation marks, a fraction of up to
        // 7 digits, a zone of up to 3 characters.
        return String(unsafeUninitializedCapacity: 40) { output in
            var index = 0
            func put(_ value: Int, width: Int) {
                var width = width
                if value < 0 {
                    output[index] = UInt8(ascii: "-")
                    index += 1
                    width -= 1
                }
                var rest = value.magnitude
                var digits = 1
                while rest >= 10 {
                    digits += 1
                    rest /= 10
                }
                let count = max(width, digits)
                rest = value.magnitude
                for offset in stride(from: count - 1, through: 0, by: -1) {
                    output[index + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                index += count
            }
            func put(_ character: Unicode.Scalar) {
                output[index] = UInt8(ascii: character)
                index += 1
            }
            put(Int(parts.tm_year) + 1900, width: 4)
            put("-")
            put(Int(parts.tm_mon) + 1, width: 2)
            put("-")
            put(Int(parts.tm_mday), width: 2)
            put(separator)
            put(Int(parts.tm_hour), width: 2)
            put(":")
            put(Int(parts.tm_min), width: 2)
            put(":")
            put(Int(parts.tm_sec), width: 2)
            put(".")
            put(fraction, width: fractionDigits)
            for character in zone.unicodeScalars { put(character) }
            return index
        }
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
