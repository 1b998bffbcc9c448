import EmailTasks
import Foundation
import Logging
import TaskQueue

/// Waits until every given task has ended (or the timeout passes), then exits 0 if each one
/// completed and its e-mail is recorded in `sent_emails`, or 1, naming each task that did not.
///
///     check-emails [--timeout SECONDS] ID...
///     check-emails --timeout 60 $(enqueue-emails --count 5)   # `task <id>` lines work too
@main
struct CheckEmails {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "check-emails")
        do {
            let (ids, timeout) = try parseArguments(Array(CommandLine.arguments.dropFirst()))
            let problems = try await check(ids, timeout: timeout, logger: logger)
            for problem in problems { print(problem) }
            if problems.isEmpty {
                print("all \(ids.count) e-mails sent")
            } else {
                exit(1)
            }
        } catch {
            logger.critical("\(error)")
            exit(1)
        }
    }

    /// What is wrong with the tasks once they have settled or the time is up; empty when every
    /// task completed and its e-mail was recorded.
    static func check(_ ids: [UUID], timeout: Duration, logger: Logger) async throws -> [String] {
        let queue = try await TaskQueue.connect(configuration: try EmailQueue.configuration(), logger: logger)
        let deadline = ContinuousClock.now + timeout
        var tasks: [UUID: TaskRecord] = [:]
        // Poll PostgreSQL, which holds every task's state. A task that has ended (completed,
        // failed or cancelled) or does not exist will not change by itself: stop waiting for it.
        var waiting = ids
        while !waiting.isEmpty {
            var stillWaiting: [UUID] = []
            for id in waiting {
                guard let task = try await queue.task(id) else { continue }
                tasks[id] = task
                if !task.status.isTerminal { stillWaiting.append(id) }
            }
            waiting = stillWaiting
            if waiting.isEmpty || ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }

        var problems: [String] = []
        var completed: [UUID] = []
        for id in ids {
            let name = id.uuidString.lowercased()
            if let task = tasks[id], task.status == .completed {
                completed.append(id)
            } else if let task = tasks[id] {
                let error = task.lastError.map { ", last error: \($0)" } ?? ""
                problems.append("task \(name): \(task.status.rawValue) after \(task.attempts) attempt(s)\(error)")
            } else {
                problems.append("task \(name): not found in schema \(EmailQueue.schema)")
            }
        }
        // Completed must also mean sent: the worker's handler recorded the e-mail.
        if !completed.isEmpty {
            let rows = try await queue.execute(
                "SELECT task_id::text AS id FROM \(EmailQueue.schema).sent_emails WHERE task_id = ANY($1::uuid[])",
                ["{" + completed.map(\.uuidString).joined(separator: ",") + "}"])
            let sent = Set(rows.compactMap { $0["id"] ?? nil }.compactMap(UUID.init(uuidString:)))
            for id in completed where !sent.contains(id) {
                problems.append("task \(id.uuidString.lowercased()): completed, but no e-mail recorded in sent_emails")
            }
        }
        return problems
    }

    /// `--timeout SECONDS` (default 60) and the task ids, bare or as `task <id>` lines.
    static func parseArguments(_ arguments: [String]) throws -> ([UUID], Duration) {
        var timeout = Duration.seconds(60)
        var ids: [UUID] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--timeout":
                guard let value = rest.popFirst(), let seconds = Double(value), seconds > 0 else {
                    throw ConfigurationError("--timeout takes a number of seconds")
                }
                timeout = .milliseconds(Int64(seconds * 1000))
            case "task":
                continue  // `task <id>` as enqueue-emails prints it
            default:
                guard let id = UUID(uuidString: argument) else { throw ConfigurationError("not a task id: \(argument)") }
                ids.append(id)
            }
        }
        guard !ids.isEmpty else { throw ConfigurationError("usage: check-emails [--timeout SECONDS] ID...") }
        return (ids, timeout)
    }
}
