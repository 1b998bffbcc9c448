import Foundation
import Synchronization
import TaskQueue

#if canImport(Glibc)
    import Glibc
#endif

/// Creates tasks through REST at a fixed rate for a long time, open loop: request `i` leaves at
/// `start + i / rate` whatever the earlier ones are doing (as `steady` sends), from a pool of
/// blocking connections on threads of their own, large enough that none has to wait its turn.
final class OpenLoopLoad: Sendable {
    let rate: Int
    let total: Int
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init(rate: Int, seconds: Int) {
        self.rate = rate
        total = rate * seconds
    }

    /// Sends until all `total` requests are out or `stop()` is called; returns the requests that
    /// failed (no 201, or no answer).
    /// `threads` defaults to one per 25 tasks/s (16 to 128): a request usually takes a few
    /// milliseconds, under a held transaction tens, and 40 ms of latency must not delay the schedule.
    func run(port: Int, json: String, start: ContinuousClock.Instant, threads: Int? = nil) async -> Int {
        let interval = Duration.seconds(1) / rate
        let clock = ContinuousClock()
        let threads = threads ?? min(128, max(16, rate / 25))
        return await onThreads(threads) { [self] _ -> Int in
            var errors = 0
            var connection: LoadConnection?
            while !stopped.load(ordering: .relaxed) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if index >= total { break }
                let wait = start.advanced(by: interval * index) - clock.now
                if wait > .zero { usleep(useconds_t(wait.nanoseconds / 1000)) }
                do {
                    if connection == nil { connection = try LoadConnection(port: port) }
                    if try connection!.post(path: "/api/v1/tasks", json: json) != 201 { errors += 1 }
                } catch {
                    errors += 1
                    connection = nil
                }
            }
            return errors
        }.reduce(0, +)
    }

    /// Ends the load early (a scenario that failed): each thread stops after its current request.
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}
