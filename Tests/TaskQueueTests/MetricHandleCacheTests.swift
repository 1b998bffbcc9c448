import Synchronization
import Testing

@testable import TaskQueue

@Suite struct MetricHandleCacheTests {
    /// A handle that remembers the label it was made for.
    final class Handle: Sendable {
        let label: String
        init(_ label: String) { self.label = label }
    }

    @Test func aLabelSetGetsOneHandleMadeOnce() {
        let made = Mutex(0)
        let cache = MetricHandleCache<String, Handle>(
            limit: 4, overflow: { _ in "_other" },
            make: { label in
                made.withLock { $0 += 1 }
                return Handle(label)
            })
        let first = cache["email"]
        #expect(cache["email"] === first)
        #expect(cache["resize"] !== first)
        #expect(made.withLock { $0 } == 2)
    }

    @Test func labelSetsPastTheLimitShareTheOverflowHandle() {
        let cache = MetricHandleCache<String, Handle>(limit: 2, overflow: { _ in "_other" }, make: { Handle($0) })
        #expect(cache["a"].label == "a")
        #expect(cache["b"].label == "b")
        let overflow = cache["c"]
        #expect(overflow.label == "_other")
        #expect(cache["d"] === overflow)
        // Label sets seen before the limit keep their own handles.
        #expect(cache["a"].label == "a")
        for index in 0..<1000 { _ = cache["type-\(index)"] }
        #expect(cache.count == 3)
    }
}
