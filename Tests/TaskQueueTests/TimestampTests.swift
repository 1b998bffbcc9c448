import Foundation
import Testing

@testable import TaskQueue

@Suite struct TimestampTests {
    /// What the C library prints for the same instant: the formats as TaskFlow wrote them before
    /// they shared one writer.
    private func reference(_ date: Date, postgres: Bool) -> String {
        let interval = date.timeIntervalSince1970
        var seconds: time_t
        let fraction: Int
        if postgres {
            seconds = time_t(floor(interval))
            fraction = Int((interval - Double(seconds)) * 1_000_000)
        } else {
            let milliseconds = Int64((interval * 1000).rounded(.down))
            let whole = milliseconds >= 0 || milliseconds % 1000 == 0 ? milliseconds / 1000 : milliseconds / 1000 - 1
            seconds = time_t(whole)
            fraction = Int(milliseconds - whole * 1000)
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: postgres ? "%04d-%02d-%02d %02d:%02d:%02d.%06d+00" : "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), fraction
        )
    }

    @Test func bothFormatsMatchTheCLibrary() {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -0.5, -1, 0.0005, 951_782_400.25, 1_795_000_000.123456, 1_893_456_000.9996, 253_402_300_799.999]
        for _ in 0..<5_000 { samples.append(Double.random(in: -2_208_988_800...4_102_444_800, using: &generator)) }
        for interval in samples {
            let date = Date(timeIntervalSince1970: interval)
            #expect(Timestamp.format(date) == reference(date, postgres: false), "\(interval)")
            #expect(Timestamp.postgresText(date) == reference(date, postgres: true), "\(interval)")
        }
    }

    @Test func postgresTextHasMicroseconds() {
        #expect(Timestamp.postgresText(Date(timeIntervalSince1970: 1_795_414_093.25)) == "2026-11-23 06:08:13.250000+00")
        #expect(Date(timeIntervalSince1970: 0).postgresText == "1970-01-01 00:00:00.000000+00")
    }
}
