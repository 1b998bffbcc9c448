import Synchronization

/// Metric handles made once per label set and reused. Making a swift-metrics handle checks its
/// name and labels and looks it up in the backend on every call (measured: a visible share of the
/// worker's CPU when every task made three), so hot paths keep them here.
///
/// At most `limit` label sets get their own handle; past that, `overflow` maps a label set to the
/// shared one to use instead (for example with the task type replaced by `overflowLabel`), so
/// clients inventing task types cannot grow the metric set without bound.
package final class MetricHandleCache<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
    /// The label value that stands for every value past the limit.
    package static var overflowLabel: String { "_other" }

    private let handles = Mutex<[Key: Handle]>([:])
    private let limit: Int
    private let overflow: @Sendable (Key) -> Key
    private let make: @Sendable (Key) -> Handle

    package init(limit: Int = 256, overflow: @escaping @Sendable (Key) -> Key, make: @escaping @Sendable (Key) -> Handle) {
        self.limit = max(1, limit)
        self.overflow = overflow
        self.make = make
    }

    package subscript(_ key: Key) -> Handle {
        let (found, isFull) = handles.withLock { ($0[key], $0.count >= limit) }
        if let found { return found }
        let key = isFull ? overflow(key) : key
        if let found = handles.withLock({ $0[key] }) { return found }
        // Made outside the lock: the metrics backend takes its own. Two threads racing on a new
        // key both make a handle for the same series, which the backend shares.
        let handle = make(key)
        return handles.withLock { handles in
            if let existing = handles[key] { return existing }
            handles[key] = handle
            return handle
        }
    }

    /// Label sets holding their own handle (the overflow set included, once used).
    package var count: Int { handles.withLock { $0.count } }
}
