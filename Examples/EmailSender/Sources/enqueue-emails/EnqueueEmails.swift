import EmailTasks
import Foundation
import Logging
import TaskQueue

/// Enqueues `--count N` e-mails (default 5) in each of the ways TaskFlow offers and prints the
/// id of every task it created as `task <id>`, one per line, for `check-emails`:
/// - the first in a transaction that also inserts a row into the application's own `signups`
///   table: both commit together, and the task is published only once they have;
/// - the next two one at a time;
/// - the rest in one batch (one INSERT, one publish burst).
///
///     DATABASE_URL=postgres://… NATS_URL=nats://… swift run enqueue-emails --count 5
@main
struct EnqueueEmails {
    static func main() async {
        // Logs go to stderr so that stdout carries only the task ids.
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "enqueue-emails")
        do {
            try await run(count: parseCount(Array(CommandLine.arguments.dropFirst())), logger: logger)
        } catch {
            logger.critical("\(error)")
            exit(1)
        }
    }

    static func run(count: Int, logger: Logger) async throws {
        let queue = try await TaskQueue.connect(configuration: try EmailQueue.configuration(), logger: logger)
        // The application's own table, beside TaskFlow's in the same database (a real application
        // creates it with its own migrations).
        try await queue.execute(
            """
            CREATE TABLE IF NOT EXISTS \(EmailQueue.schema).signups (
                email text PRIMARY KEY,
                signed_up_at timestamptz NOT NULL DEFAULT now()
            )
            """)

        // Addresses unique to this run, so the example can run again and again on one database.
        let run = UUID().uuidString.prefix(8).lowercased()
        let emails = (1...count).map { index in
            Email(
                to: "user\(index)-\(run)@example.com", subject: "Hello \(index)",
                body: "This is e-mail \(index) of run \(run).")
        }
        var created: [TaskRecord] = []

        // 1. Next to the application's own data: the signup and its welcome e-mail commit
        //    together or not at all: no welcome e-mail for a signup that was rolled back, no signup
        //    without its e-mail. The task is published once the commit has succeeded.
        let welcome = emails[0]
        let task = try await queue.withTransaction { transaction in
            try await transaction.execute("INSERT INTO \(EmailQueue.schema).signups (email) VALUES ($1)", [welcome.to])
            return try await transaction.enqueue(sendEmail, welcome).task
        }
        created.append(task)

        // 2. One at a time: each call returns once the task is stored and handed to NATS (or,
        //    with NATS down, flagged for a worker to publish when it is back).
        for email in emails.dropFirst().prefix(2) {
            created.append(try await queue.enqueue(sendEmail, email).task)
        }

        // 3. The rest at once.
        let rest = Array(emails.dropFirst(3))
        if !rest.isEmpty {
            created += try await queue.enqueueBatch(sendEmail, rest).map(\.task)
        }

        for task in created {
            print("task \(task.id.uuidString.lowercased())")
        }
    }

    /// `--count N`, `--count=N` or a bare `N`; 5 when absent.
    static func parseCount(_ arguments: [String]) throws -> Int {
        var value: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--count", "-n":
                guard let next = rest.popFirst() else { throw ConfigurationError("\(argument) needs a number") }
                value = next
            case let option where option.hasPrefix("--count="): value = String(option.dropFirst("--count=".count))
            case "--help", "-h":
                print("usage: enqueue-emails [--count N]   (N e-mails, default 5; needs DATABASE_URL, NATS_URL)")
                exit(0)
            default: value = argument
            }
        }
        guard let value else { return 5 }
        guard let count = Int(value), count > 0 else {
            throw ConfigurationError("the count must be a positive whole number, not \(value)")
        }
        return count
    }
}
