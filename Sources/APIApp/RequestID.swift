import Synchronization

/// Request ids for responses and logs: a random 64-bit prefix per process and a counter, unique
/// enough to find a request's log lines and far cheaper than a random UUID per request.
enum RequestID {
    private static let prefix = String(UInt64.random(in: .min ... .max), radix: 16)
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let number = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(number, radix: 16)
    }
}
