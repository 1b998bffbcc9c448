import Foundation
import Testing

@testable import TaskQueue

@Suite("Start latency buckets and the worker's one-minute window")
struct StartLatencyTests {
    @Test func percentilesFallWithinABucketOfTheTruth() {
        var latency = StartLatency()
        // 1..1000 ms, once each: p50 is 500 ms, p99 is 990 ms.
        for ms in 1...1000 { latency.record(seconds: Double(ms) / 1000) }
        #expect(latency.samples == 1000)
        let p50 = latency.quantile(0.5)!.seconds
        let p99 = latency.quantile(0.99)!.seconds
        #expect(abs(p50 - 0.5) / 0.5 < 0.13, "p50 \(p50)")
        #expect(abs(p99 - 0.99) / 0.99 < 0.13, "p99 \(p99)")
        #expect(StartLatency().quantile(0.5) == nil)
    }

    @Test func bucketsCoverTheWholeRange() {
        #expect(StartLatency.bucket(for: 0) == 0)
        #expect(StartLatency.bucket(for: -1) == 0)
        #expect(StartLatency.bucket(for: 0.000_1) == 0)
        #expect(StartLatency.bucket(for: 0.000_11) == 1)
        #expect(StartLatency.bucket(for: 1e9) == StartLatency.bucketCount - 1)
        var one = StartLatency()
        one.record(seconds: 0.002)
        var sum = StartLatency(buckets: [5])
        sum.add(one)
        #expect(sum.samples == 6)
        #expect(StartLatency(buckets: Array(repeating: 1, count: 200)).samples == StartLatency.bucketCount)
    }

    @Test func theWindowKeepsTwelveFiveSecondSlots() {
        let window = StartLatencyWindow()
        let start = Date(timeIntervalSince1970: 1_000_000)
        window.record(waited: 0.001, at: start)
        window.record(waited: 0.002, at: start.addingTimeInterval(30))
        #expect(window.lastMinute(at: start.addingTimeInterval(30)).samples == 2)
        // A minute after the first, only the second is left.
        #expect(window.lastMinute(at: start.addingTimeInterval(61)).samples == 1)
        // A slot reused a minute later starts afresh.
        window.record(waited: 0.003, at: start.addingTimeInterval(60))
        #expect(window.lastMinute(at: start.addingTimeInterval(60)).samples == 2)
        #expect(window.lastMinute(at: start.addingTimeInterval(200)).samples == 0)
    }
}
