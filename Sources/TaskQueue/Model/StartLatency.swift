import Foundation
import Synchronization

/// How long tasks waited from due (created, or their `runAt` when later) to the start of an
/// attempt, as counts per latency bucket: what each worker reports with its heartbeat for the last
/// minute and what the dashboard sums over the fleet for its percentiles.
///
/// Bucket 0 holds waits up to 0.1 ms, bucket `i` those up to 0.1 ms × 1.25^i, the last one
/// everything longer (about 1.5 hours and up). A percentile is read as the middle of its bucket
/// on a log scale, so it is within about 12% of the exact value.
public struct StartLatency: Sendable, Equatable {
    /// How many buckets there are.
    public static let bucketCount = 80
    static let firstBound = 0.000_1
    static let growth = 1.25
    private static let logGrowth = log(growth)

    /// The counts per bucket (always ``bucketCount`` of them).
    public private(set) var buckets: [Int]

    /// No samples.
    public init() { buckets = Array(repeating: 0, count: Self.bucketCount) }

    /// From stored counts; missing trailing buckets are zero, extra ones are ignored.
    public init(buckets: [Int]) {
        self.init()
        for (index, count) in buckets.prefix(Self.bucketCount).enumerated() { self.buckets[index] = max(0, count) }
    }

    /// How many waits were recorded.
    public var samples: Int { buckets.reduce(0, +) }

    /// The bucket a wait of `seconds` falls in.
    static func bucket(for seconds: Double) -> Int {
        guard seconds > firstBound else { return 0 }
        let index = Int((log(seconds / firstBound) / logGrowth).rounded(.up))
        return min(max(index, 0), bucketCount - 1)
    }

    /// Adds one wait.
    mutating func record(seconds: Double) { buckets[Self.bucket(for: seconds)] += 1 }

    /// Adds another set of counts to these.
    public mutating func add(_ other: StartLatency) {
        for index in buckets.indices { buckets[index] += other.buckets[index] }
    }

    /// The wait at quantile `q` (0.5 for the median), or nil without samples.
    public func quantile(_ q: Double) -> Duration? {
        let total = samples
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (index, count) in buckets.enumerated() {
            seen += count
            guard seen >= rank else { continue }
            let upper = Self.firstBound * pow(Self.growth, Double(index))
            let lower = index == 0 ? Self.firstBound / Self.growth : upper / Self.growth
            return .seconds((lower * upper).squareRoot())
        }
        return nil
    }
}

/// The waits a worker saw in the last minute, in twelve five-second slots; recording one is a
/// bucket increment under an uncontended lock.
final class StartLatencyWindow: Sendable {
    static let slotSeconds = 5.0
    static let slots = 12

    private struct State {
        var epochs = Array(repeating: -1, count: StartLatencyWindow.slots)
        var counts = Array(repeating: StartLatency(), count: StartLatencyWindow.slots)
    }

    private let state = Mutex(State())

    func record(waited seconds: Double, at now: Date) {
        let epoch = Int(now.timeIntervalSince1970 / Self.slotSeconds)
        let slot = epoch % Self.slots
        state.withLock { state in
            if state.epochs[slot] != epoch {
                state.epochs[slot] = epoch
                state.counts[slot] = StartLatency()
            }
            state.counts[slot].record(seconds: max(0, seconds))
        }
    }

    /// The waits of the last minute (the current slot and the eleven before it).
    func lastMinute(at now: Date = Date()) -> StartLatency {
        let epoch = Int(now.timeIntervalSince1970 / Self.slotSeconds)
        return state.withLock { state in
            var total = StartLatency()
            for slot in 0..<Self.slots where state.epochs[slot] > epoch - Self.slots {
                total.add(state.counts[slot])
            }
            return total
        }
    }
}
