import Foundation
import Logging

/// Subscribing to the priority consumers and pulling their messages into the delivery buffer.
extension TaskWorker {
    // MARK: Subscribing

    func subscribeAll() async -> [(TaskPriority, PullSubscription)]? {
        var delay = Duration.milliseconds(200)
        while !drainRequested.isFired {
            do {
                if !publisher.isProvisioned { try await publisher.provision() }
                var subscriptions: [(TaskPriority, PullSubscription)] = []
                for priority in TaskPriority.allCases {
                    subscriptions.append(
                        (
                            priority,
                            try await nats.pullSubscribe(
                                stream: queueConfiguration.streamName,
                                consumer: queueConfiguration.consumer(for: priority),
                                subject: queueConfiguration.subject(for: priority)
                            )
                        ))
                }
                return subscriptions
            } catch {
                logger.warning("cannot subscribe yet; retrying", metadata: [LogKey.error: "\(error)"])
                if await sleep(for: delay, unless: drainRequested) { break }
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }

    // MARK: Fetching

    func fetchLoop(_ priority: TaskPriority, _ subscription: PullSubscription) async {
        var failures = 0
        let clock = ContinuousClock()
        while !drainRequested.isFired {
            if pauses.withLock({ $0.priorities.contains(priority) }) {
                if await sleep(for: .milliseconds(250), unless: drainRequested) { break }
                continue
            }
            let room = await buffer.waitForRoom(priority)
            if room == 0 { break }
            do {
                var messages = try await subscription.fetch(batch: min(room, 256), noWait: true, timeout: queueConfiguration.nats.requestTimeout)
                if messages.isEmpty {
                    let started = clock.now
                    messages = try await subscription.fetch(batch: 1, noWait: false, timeout: configuration.pollTimeout)
                    // nats.c 3.4.1 can report a timeout at once; do not spin when it does.
                    if messages.isEmpty, clock.now - started < .milliseconds(5) {
                        if await sleep(for: .milliseconds(50), unless: drainRequested) { break }
                    }
                }
                failures = 0
                for message in await buffer.push(messages, priority: priority) { try? message.nak() }
            } catch {
                failures += 1
                logger.warning("fetch failed", metadata: [LogKey.error: "\(error)", LogKey.subject: "\(queueConfiguration.subject(for: priority))"])
                if failures % 5 == 0 {
                    // The stream or consumer may have been lost with the server's data; recreate them.
                    try? await publisher.provision()
                }
                if await sleep(for: .milliseconds(min(200 * failures, 2000)), unless: drainRequested) { break }
            }
        }
    }
}
