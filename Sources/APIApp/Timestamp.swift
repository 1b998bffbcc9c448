import Foundation

/// RFC 3339 timestamps in UTC with milliseconds (`2030-01-01T12:00:00.000Z`), the API's one format.
enum Timestamp {
    static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.floorDivided(by: 1000))
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written straight into the string's storage: one allocation per timestamp (a response
        // carries five of them, and per-field arrays showed in the API's profile).
        return String(unsafeUninitializedCapacity: 24) { output in
            var index = 0
            func put(_ value: Int, width: Int) {
                var rest = value
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    output[index + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                index += width
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
            put("T")
            put(Int(parts.tm_hour), width: 2)
            put(":")
            put(Int(parts.tm_min), width: 2)
            put(":")
            put(Int(parts.tm_sec), width: 2)
            put(".")
            put(fraction, width: 3)
            put("Z")
            return index
        }
    }
}

private extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
