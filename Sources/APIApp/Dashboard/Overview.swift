import Foundation
import TaskQueue

/// The overview's figures, read in one go: for the page and for every live update. Each read is
/// bounded by what it shows (counts kept by TaskFlow's statements, a minute of finishes, the
/// workers' rows, the stream's state), never by the history kept.
struct Overview: Sendable {
    /// Text per live value, keyed as the page's `data-live` attributes.
    var values: [String: String]
    /// Server-rendered pieces the page replaces whole, keyed as its `data-fragment` attributes.
    var fragments: [String: String]
    var workersOnline: Int
    var workers: [WorkerPresence]

    static func read(_ queue: TaskQueue, renderer: DashboardRenderer) async throws -> Overview {
        async let countsRead = queue.counts()
        async let recentRead = queue.finishedRecently()
        async let seriesRead = queue.finishedSeries(window: .seconds(900), step: .seconds(10))
        async let workersRead = queue.workers()
        async let pausesRead = queue.pauses()
        let stream = queue.natsConnected ? try? await queue.streamState() : nil
        let (counts, recent, series, workers, pauses) = try await (countsRead, recentRead, seriesRead, workersRead, pausesRead)

        var values: [String: String] = [:]
        for status in TaskStatus.allCases { values["status_\(status.rawValue)"] = DashboardFormat.count(counts.byStatus[status] ?? 0) }
        for priority in TaskPriority.allCases {
            values["priority_\(priority.rawValue)"] = DashboardFormat.count(counts.byPriority[priority] ?? 0)
            let backlog = stream.flatMap { Self.consumer(of: priority, in: $0.consumers) }
            values["backlog_\(priority.rawValue)"] = backlog.map { DashboardFormat.count(Int($0.pending) + $0.ackPending) } ?? "–"
            values["paused_\(priority.rawValue)"] = pauses.priorities.contains(priority) ? "paused" : "running"
        }
        values["completed_last_minute"] = DashboardFormat.count(recent.completed)
        values["failed_last_minute"] = DashboardFormat.count(recent.failed)
        let latency = queue.startLatency(of: workers)
        values["latency_p50"] = DashboardFormat.duration(latency.quantile(0.5))
        values["latency_p99"] = DashboardFormat.duration(latency.quantile(0.99))
        values["latency_samples"] = DashboardFormat.count(latency.samples)
        values["dead_letters"] = stream.map { DashboardFormat.count(Int($0.deadLetters?.messages ?? 0)) } ?? "unavailable"
        values["nats"] = stream == nil ? "unreachable" : "connected"
        let online = workers.filter(\.isOnline).count
        values["workers_online"] = DashboardFormat.count(online)
        values["updated"] = DashboardFormat.time(Date())

        let fragments = [
            "chart": ThroughputChart.svg(series),
            "workers": renderer.fragment("workers", DashboardViews.workers(workers)),
        ]
        return Overview(values: values, fragments: fragments, workersOnline: online, workers: workers)
    }

    /// The consumer of a priority (its filter subject ends in the priority's name).
    static func consumer(of priority: TaskPriority, in consumers: [ConsumerSnapshot]) -> ConsumerSnapshot? {
        consumers.first { $0.filterSubject.hasSuffix(".\(priority.rawValue)") }
    }

    /// The live update's JSON.
    var json: String {
        let object: [String: Any] = ["values": values, "fragments": fragments, "workers_online": workersOnline]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The live overview: one reader reads the figures every `interval` while anyone is watching, and
/// every open dashboard gets the same update, so twenty dashboards cost what one does.
actor OverviewFeed {
    private let queue: TaskQueue
    private let renderer: DashboardRenderer
    private let interval: Duration
    private var watchers: [Int: AsyncStream<String>.Continuation] = [:]
    private var nextID = 0
    private var latest: String?
    private var reader: Task<Void, Never>?

    init(queue: TaskQueue, renderer: DashboardRenderer, interval: Duration = .seconds(2)) {
        self.queue = queue
        self.renderer = renderer
        self.interval = interval
    }

    /// Updates as they are read (the latest one first, if there is one), until `unwatch`.
    func watch() -> (id: Int, updates: AsyncStream<String>) {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        nextID += 1
        watchers[nextID] = continuation
        if let latest { continuation.yield(latest) }
        if reader == nil {
            reader = Task { await self.readLoop() }
        }
        return (nextID, stream)
    }

    func unwatch(_ id: Int) {
        watchers.removeValue(forKey: id)?.finish()
        if watchers.isEmpty {
            reader?.cancel()
            reader = nil
            latest = nil
        }
    }

    var watcherCount: Int { watchers.count }

    private func readLoop() async {
        while !Task.isCancelled {
            if let overview = try? await Overview.read(queue, renderer: renderer) {
                publish(overview.json)
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func publish(_ update: String) {
        guard !watchers.isEmpty else { return }
        latest = update
        for continuation in watchers.values { continuation.yield(update) }
    }
}
