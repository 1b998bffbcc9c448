/// TaskFlow's one set of `Duration` conversions; the executables use them too (`package`), so a
/// duration means the same number everywhere.
extension Duration {
    /// Seconds, with as much of the fraction as a `Double` holds.
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Milliseconds, with as much of the fraction as a `Double` holds: for latencies in reports.
    package var fractionalMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    /// Whole milliseconds, rounded up, for nats.c options and SQL intervals: a wait, timeout or
    /// lease never comes out shorter than asked, and a positive one never becomes zero.
    var milliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + (parts.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, the rest dropped (JetStream's and NIO's unit).
    package var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}
