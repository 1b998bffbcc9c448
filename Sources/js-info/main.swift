import ArgumentParser
import Foundation
import TaskQueue

/// Shows what TaskFlow's JetStream streams and consumers hold. Read-only.
@main
struct JSInfo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "js-info",
        abstract: "Show TaskFlow's JetStream streams, consumers and dead letters (read-only).",
        subcommands: [Overview.self, DeadLetters.self],
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
            let data = try JSONSerialization.data(withJSONObject: letters.map(\.jsonObject), options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
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

func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}
