import EmailTasks
import Foundation
import Logging
import ServiceLifecycle
import TaskQueue

/// Sends the e-mails that `enqueue-emails` queued, until SIGTERM or SIGINT: then it stops
/// fetching, lets the e-mails being sent finish, records every outcome and exits 0.
///
///     DATABASE_URL=postgres://… NATS_URL=nats://… swift run email-worker
///
/// Run as many as you like, on as many machines: each task runs to success once.
@main
struct EmailWorker {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "email-worker")
        do {
            try await run(logger: logger)
        } catch {
            logger.critical("\(error)")
            exit(1)
        }
    }

    static func run(logger: Logger) async throws {
        let queue = try await TaskQueue.connect(configuration: try EmailQueue.configuration(), logger: logger)
        // Where the worker records what it sent, one row per task (see `send`).
        try await queue.execute(
            """
            CREATE TABLE IF NOT EXISTS \(EmailQueue.schema).sent_emails (
                task_id uuid PRIMARY KEY,
                recipient text NOT NULL,
                subject text NOT NULL,
                sent_at timestamptz NOT NULL DEFAULT now()
            )
            """)

        let handlers = TaskHandlerRegistry()
        try handlers.register(sendEmail) { email, context in
            // Retrying cannot fix a bad address: fail the task now (it goes to the dead letters).
            guard email.to.contains("@") else { throw TerminalTaskError("not an e-mail address: \(email.to)") }
            try await send(email, context: context, queue: queue)
        }

        // sendEmail brings its own retry strategy and timeout; these settings apply to the rest.
        let worker = TaskWorker(
            queue: queue, registry: handlers,
            configuration: WorkerConfiguration(concurrency: 4, shutdownTimeout: .seconds(10)),
            logger: logger)
        // Runs until SIGTERM or SIGINT, then drains the worker and returns (exit status 0).
        try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }

    /// "Sends" an e-mail: records it in `sent_emails` and prints it.
    ///
    /// Delivery is at least once: a worker that dies after sending but before TaskFlow records
    /// the success leaves the task to run again. So the send is keyed by the task id. Here
    /// `sent_emails` stands in for the mail provider, and its primary key makes a repeated
    /// attempt a no-op; a real provider gets the task id as its idempotency key.
    static func send(_ email: Email, context: TaskContext, queue: TaskQueue) async throws {
        let inserted = try await queue.execute(
            """
            INSERT INTO \(EmailQueue.schema).sent_emails (task_id, recipient, subject) VALUES ($1::uuid, $2, $3)
            ON CONFLICT (task_id) DO NOTHING RETURNING task_id
            """, [context.taskID.uuidString, email.to, email.subject])
        guard !inserted.isEmpty else {
            context.logger.info("already sent; nothing to do")
            return
        }
        print("sent \(context.taskID.uuidString.lowercased()) to \(email.to): \(email.subject)")
    }
}
