import Foundation

/// RFC 3339 timestamps in UTC with milliseconds (`2030-01-01T12:00:00.000Z`), the API's one format.
enum Timestamp {
    static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.floorDivided(by: 1000))
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var output: [UInt8] = []
        output.reserveCapacity(24)
        func put(_ value: Int, width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var rest = value
            for index in stride(from: width - 1, through: 0, by: -1) {
                digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            output.append(contentsOf: digits)
        }
        put(Int(parts.tm_year) + 1900, width: 4)
        output.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mon) + 1, width: 2)
        output.append(UInt8(ascii: "-"))
        put(Int(parts.tm_mday), width: 2)
        output.append(UInt8(ascii: "T"))
        put(Int(parts.tm_hour), width: 2)
        output.append(UInt8(ascii: ":"))
        put(Int(parts.tm_min), width: 2)
        output.append(UInt8(ascii: ":"))
        put(Int(parts.tm_sec), width: 2)
        output.append(UInt8(ascii: "."))
        put(fraction, width: 3)
        output.append(UInt8(ascii: "Z"))
        return String(decoding: output, as: UTF8.self)
    }
}

private extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
