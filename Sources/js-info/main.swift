import ArgumentParser
import Foundation
import TaskQueue

/// Shows what TaskFlow's JetStream streams and consumers hold. Read-only.
@main
struct JSInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "js-info",
        abstract: "Show TaskFlow's JetStream streams, consumers, dead letters, schedules, pauses, limits and workers (read-only).",
        subcommands: [Overview.self, DeadLetters.self, Schedules.self, Paused.self, Limits.self, Workers.self],
        defaultSubcommand: Overview.self
    )
}

struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "NATS server URL(s), comma-separated (default: $NATS_URL or nats://127.0.0.1:4222).")
    var server: String?

    @Option(name: .long, help: "Work stream name (default: $NATS_STREAM_NAME or TASKFLOW).")
    var stream: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    var streamName: String { stream ?? EnvironmentReader().string("NATS_STREAM_NAME", default: "TASKFLOW") }

    func connect() throws -> JetStreamInspector {
        let url = server ?? EnvironmentReader().string("NATS_URL", default: "nats://127.0.0.1:4222")
        var configuration = NATSConfiguration(url: url, connectionName: "js-info")
        configuration.requestTimeout = .seconds(3)
        do {
            return try JetStreamInspector(configuration: configuration)
        } catch {
            throw ValidationFailure("cannot reach NATS at \(url): \(error)")
        }
    }
}

/// The options of the subcommands that read PostgreSQL: the connection's, and the database URL.
struct DatabaseOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "PostgreSQL URL (default: $DATABASE_URL).")
    var database: String?

    var json: Bool { connection.json }
}

struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct Overview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Streams and consumers (the default).")

    @OptionGroup var options: ConnectionOptions

    struct Report: Codable {
        var stream: StreamSnapshot
        var deadLetterStream: StreamSnapshot?
        var consumers: [ConsumerSnapshot]
    }

    func run() async throws {
        let inspector = try options.connect()
        let name = options.streamName
        guard let work = try await inspector.stream(name) else {
            throw ValidationFailure("stream \(name) does not exist on this server")
        }
        let report = Report(
            stream: work, deadLetterStream: try await inspector.stream("\(name)_DLQ"),
            consumers: try await inspector.consumers(of: name))
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        printStream(report.stream)
        if let dead = report.deadLetterStream { printStream(dead) } else { print("Stream \(name)_DLQ: not created yet\n") }
        let clustered = report.consumers.contains { $0.leader != nil }
        let rows =
            [["CONSUMER", "FILTER", "PENDING", "ACK PENDING", "REDELIVERED", "WAITING", "ACK WAIT"] + (clustered ? ["LEADER"] : [])]
            + report.consumers.map { consumer in
                [
                    consumer.name, consumer.filterSubject, "\(consumer.pending)", "\(consumer.ackPending)",
                    "\(consumer.redelivered)", "\(consumer.waiting)", "\(consumer.ackWaitSeconds)s",
                ]
                    + (clustered ? [consumer.leader ?? "-"] : [])
            }
        printTable(rows)
    }

    private func printStream(_ stream: StreamSnapshot) {
        print("Stream \(stream.name) (\(stream.retention), \(stream.storage), replicas \(stream.replicas)\(stream.leader.map { ", leader \($0)" } ?? ""))")
        print("  subjects:  \(stream.subjects.joined(separator: ", "))")
        print(
            "  messages:  \(stream.messages)   bytes: \(stream.bytes)   first seq: \(stream.firstSequence)   last seq: \(stream.lastSequence)   consumers: \(stream.consumerCount)"
        )
        if !stream.followers.isEmpty {
            let followers = stream.followers.map { peer in
                "\(peer.name) (\(peer.offline ? "offline" : peer.current ? "current" : "behind \(peer.lag)"))"
            }
            print("  followers: \(followers.joined(separator: ", "))")
        }
        print("")
    }
}

struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dlq", abstract: "Dead letters, newest first, without consuming them.")

    @OptionGroup var options: ConnectionOptions

    @Option(name: .long, help: "How many to show.")
    var limit = 20

    func validate() throws {
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    func run() async throws {
        let inspector = try options.connect()
        let name = "\(options.streamName)_DLQ"
        guard try await inspector.stream(name) != nil else {
            throw ValidationFailure("stream \(name) does not exist on this server")
        }
        let letters = try await inspector.deadLetters(stream: name, limit: limit)
        if options.json {
            try printJSON(letters.map(\.jsonObject))
            return
        }
        if letters.isEmpty {
            print("no dead letters in \(name)")
            return
        }
        let rows =
            [["TASK", "TYPE", "PRIORITY", "ATTEMPTS", "FAILED AT", "LAST ERROR"]]
            + letters.map { letter in
                [
                    letter.taskID.uuidString.lowercased(), letter.type, letter.priority.rawValue, "\(letter.attempts)",
                    Timestamp.format(letter.failedAt), String((letter.lastError ?? "").prefix(80)),
                ]
            }
        printTable(rows)
    }
}

struct Schedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "Schedules with their next and last fires (from PostgreSQL: $DATABASE_URL, $DATABASE_SCHEMA).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let (_, schedules) = try await readDatabase("schedules", options) { try await $0.schedules() }
        if options.json {
            let objects: [[String: Any]] = schedules.map { record in
                [
                    "name": record.schedule.name, "cron": record.schedule.cron.description, "timezone": record.schedule.timeZone.identifier,
                    "type": record.schedule.type, "priority": record.schedule.priority.rawValue, "missed": record.schedule.missed.rawValue,
                    "paused": record.paused, "next_fires": record.nextFires.map(Timestamp.format),
                    "last_fires": record.lastFires.map { fire in
                        ["fire_at": Timestamp.format(fire.fireAt), "task_id": fire.taskID.uuidString.lowercased(), "manual": fire.manual] as [String: Any]
                    },
                ]
            }
            try printJSON(objects)
            return
        }
        if schedules.isEmpty {
            print("no schedules")
            return
        }
        let rows =
            [["SCHEDULE", "CRON", "TIME ZONE", "TYPE", "STATE", "NEXT FIRES", "LAST FIRE"]]
            + schedules.map { record in
                [
                    record.schedule.name, record.schedule.cron.description, record.schedule.timeZone.identifier, record.schedule.type,
                    record.paused ? "paused" : "active", record.nextFires.prefix(3).map(Timestamp.format).joined(separator: ", "),
                    record.lastFires.first.map { "\(Timestamp.format($0.fireAt)) \($0.taskID.uuidString.lowercased())" } ?? "-",
                ]
            }
        printTable(rows)
    }
}

struct Paused: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paused", abstract: "Paused priorities (their subjects) and types, and tasks held meanwhile (from PostgreSQL).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let (queue, (pauses, held)) = try await readDatabase("pauses", options) { queue in
            (try await queue.pauses(), try await queue.heldTaskCount())
        }
        let priorities = TaskPriority.allCases.filter { pauses.priorities.contains($0) }
        if options.json {
            let object: [String: Any] = [
                "priorities": priorities.map { ["priority": $0.rawValue, "subject": queue.configuration.subject(for: $0)] },
                "types": pauses.types.sorted(), "held": held,
            ]
            try printJSON(object)
            return
        }
        if pauses.isEmpty && held == 0 {
            print("nothing paused")
            return
        }
        printTable(
            [["PAUSED", "NAME", "SUBJECT"]]
                + priorities.map { ["priority", $0.rawValue, queue.configuration.subject(for: $0)] }
                + pauses.types.sorted().map { ["type", $0, "-"] })
        print("held tasks: \(held)")
    }
}

struct Limits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits", abstract: "Fleet-wide limits per task type, with what runs and waits under them (from PostgreSQL).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let (_, limits) = try await readDatabase("limits", options) { try await $0.allLimits() }
        if options.json {
            try printJSON(
                limits.map { state in
                    [
                        "type": state.type, "concurrency": state.limits.concurrency.map { $0 as Any } ?? NSNull(),
                        "rate": state.limits.rate.map { ["count": $0.count, "per_seconds": $0.seconds] as Any } ?? NSNull(),
                        "running": state.running, "started_in_window": state.startedInWindow.map { $0 as Any } ?? NSNull(),
                        "held": state.held,
                    ] as [String: Any]
                })
            return
        }
        if limits.isEmpty {
            print("no limits")
            return
        }
        printTable(
            [["TYPE", "CONCURRENCY", "RATE", "RUNNING", "STARTED IN WINDOW", "HELD"]]
                + limits.map { state in
                    [
                        state.type, state.limits.concurrency.map(String.init) ?? "-",
                        state.limits.rate.map { "\($0.count) per \($0.seconds) s" } ?? "-", String(state.running),
                        state.startedInWindow.map(String.init) ?? "-", String(state.held),
                    ]
                })
    }
}

struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Worker processes of the last day with their heartbeats, and the fleet's start latency (from PostgreSQL).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let (queue, workers) = try await readDatabase("workers", options) { try await $0.workers() }
        let latency = queue.startLatency(of: workers)
        func ms(_ q: Double) -> Double? { latency.quantile(q).map { ($0.seconds * 1_000_000).rounded() / 1000 } }
        if options.json {
            try printJSON(
                [
                    "workers": workers.map { worker in
                        [
                            "id": worker.id, "host": worker.host, "pid": worker.pid, "version": worker.version,
                            "concurrency": worker.concurrency, "running": worker.running, "online": worker.isOnline,
                            "heartbeat_at": Timestamp.format(worker.heartbeatAt), "types": worker.types,
                            "stopped_at": worker.stoppedAt.map { Timestamp.format($0) as Any } ?? NSNull(),
                        ] as [String: Any]
                    },
                    "start_latency": [
                        "samples": latency.samples, "p50_ms": ms(0.5).map { $0 as Any } ?? NSNull(),
                        "p99_ms": ms(0.99).map { $0 as Any } ?? NSNull(),
                    ] as [String: Any],
                ] as [String: Any])
            return
        }
        if workers.isEmpty {
            print("no worker has recorded itself")
            return
        }
        printTable(
            [["WORKER", "HOST", "PID", "VERSION", "CONCURRENCY", "RUNNING", "STATE", "LAST HEARTBEAT", "TYPES"]]
                + workers.map { worker in
                    [
                        worker.id, worker.host, String(worker.pid), worker.version, String(worker.concurrency), String(worker.running),
                        worker.isOnline ? "online" : worker.stoppedAt == nil ? "gone" : "stopped", Timestamp.format(worker.heartbeatAt),
                        worker.types.joined(separator: ","),
                    ]
                })
        let online = workers.filter(\.isOnline).count
        print("online: \(online)\(online == 0 ? " (no worker is processing tasks)" : "")")
        if let p50 = ms(0.5), let p99 = ms(0.99) {
            print("start latency, last minute: p50 \(p50) ms, p99 \(p99) ms over \(latency.samples) starts")
        }
    }
}

/// Opens TaskFlow's database and reads `what` from it; a failed read names what it was after.
func readDatabase<Value: Sendable>(
    _ what: String, _ options: DatabaseOptions, _ read: (TaskQueue) async throws -> Value
) async throws -> (TaskQueue, Value) {
    let queue = try await openDatabase(options)
    do {
        return (queue, try await read(queue))
    } catch {
        throw ValidationFailure("cannot read \(what) (is the database migrated?): \(error)")
    }
}

/// Prints a JSON value, keys sorted.
func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// TaskFlow's queue from the environment, for the subcommands that read PostgreSQL.
func openDatabase(_ options: DatabaseOptions) async throws -> TaskQueue {
    var configuration = try TaskQueueConfiguration.fromEnvironment(EnvironmentReader(), connectionName: "js-info")
    if let database = options.database { configuration.postgres.url = database }
    if let server = options.connection.server { configuration.nats.urls = NATSConfiguration(url: server).urls }
    configuration.streamName = options.connection.streamName
    configuration.runMigrations = false
    do {
        return try await TaskQueue.connect(configuration: configuration)
    } catch {
        throw ValidationFailure("cannot open TaskFlow's database: \(error)")
    }
}

func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}
