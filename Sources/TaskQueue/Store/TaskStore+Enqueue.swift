import Foundation

/// Enqueueing: the insert, then recording whether each task's message reached the stream.
extension TaskStore {
    static let insertSQL = """
        WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::int[], $6::timestamptz[], $7::text[], $8::text[])
                AS i(id, type, payload, priority, max_attempts, run_at, idempotency_key, trace_context)
        ),
        -- Tasks without an idempotency key are inserted plainly: ON CONFLICT makes every row a
        -- speculative insertion (a token lock and a confirming WAL record per row), which only
        -- keyed tasks need.
        plain AS (\(insertFromInput(where: "idempotency_key IS NULL", onConflict: ""))),
        keyed AS (\(insertFromInput(where: "idempotency_key IS NOT NULL", onConflict: """
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            """)))
        SELECT * FROM plain UNION ALL SELECT * FROM keyed
        """

    /// One insert of the enqueue statement: the `input` rows that match `condition`.
    private static func insertFromInput(where condition: String, onConflict: String) -> String {
        """
        INSERT INTO tasks AS t (id, type, payload, priority, status, max_attempts, run_at, idempotency_key, trace_context)
        SELECT id, type, payload, priority,
               CASE WHEN run_at IS NOT NULL AND run_at > now() THEN 'scheduled' ELSE 'queued' END,
               max_attempts, coalesce(run_at, now()), idempotency_key, trace_context::jsonb
        FROM input WHERE \(condition)
        \(onConflict)
        RETURNING t.id, t.payload::text AS payload, t.status, t.run_at, t.created_at
        """
    }

    /// Inserts tasks in one statement. A task whose idempotency key exists already is not inserted;
    /// the existing task comes back with `created == false`, or an error when its content differs.
    /// One result per task, in order: one caller's conflict does not fail the others in the batch.
    static func insert(_ tasks: [NewTask], defaultMaxAttempts: Int, session: PostgresSession) throws -> [Result<EnqueueResult, TaskQueueError>] {
        guard !tasks.isEmpty else { return [] }
        let ids = UUID.timeOrdered(count: tasks.count)
        let inserted = try session.execute(
            Self.insertSQL,
            [
                PostgresArray(ids),
                PostgresArray(tasks.map(\.type)),
                PostgresArray(tasks.map(\.payloadJSON)),
                PostgresArray(tasks.map(\.priority.rawValue)),
                PostgresArray(tasks.map { $0.maxAttempts ?? defaultMaxAttempts }),
                PostgresArray(tasks.map(\.runAt)),
                PostgresArray(tasks.map(\.idempotencyKey)),
                PostgresArray(tasks.map(\.trace?.stored)),
            ])
        // Only what the database decided comes back; the rest of a new row is what we sent
        // and the table's defaults (decoding whole rows cost more than the INSERT itself).
        let sent = Dictionary(uniqueKeysWithValues: zip(ids, tasks))
        var byID: [UUID: TaskRecord] = [:]
        byID.reserveCapacity(tasks.count)
        if let first = inserted.rows.first {
            let idAt = try first.position("id")
            let payloadAt = try first.position("payload")
            let statusAt = try first.position("status")
            let runAtAt = try first.position("run_at")
            let createdAtAt = try first.position("created_at")
            for row in inserted.rows {
                let id = try row.uuid(at: idAt)
                guard let task = sent[id], let status = TaskStatus(rawValue: try row.string(at: statusAt)) else {
                    throw TaskQueueError(.databaseError, "the insert returned an unexpected row for task \(id)")
                }
                let createdAt = try row.date(at: createdAtAt)
                byID[id] = TaskRecord(
                    id: id, type: task.type, payload: try row.string(at: payloadAt), priority: task.priority, status: status,
                    attempts: 0, maxAttempts: task.maxAttempts ?? defaultMaxAttempts, attemptBase: 0,
                    runAt: try row.date(at: runAtAt), idempotencyKey: task.idempotencyKey, lastError: nil, leaseOwner: nil,
                    leaseExpiresAt: nil, publishedAt: nil, createdAt: createdAt, updatedAt: createdAt, startedAt: nil, finishedAt: nil,
                    trace: task.trace
                )
            }
        }
        var existingByKey: [String: TaskRecord] = [:]
        let missingKeys = zip(ids, tasks).compactMap { id, task in byID[id] == nil ? task.idempotencyKey : nil }
        if !missingKeys.isEmpty {
            let rows = try session.execute(
                "SELECT \(taskColumns) FROM tasks t WHERE t.idempotency_key = ANY($1::text[])",
                [PostgresArray(missingKeys)]
            )
            for row in rows.rows {
                let task = try TaskRecord(row: row)
                if let key = task.idempotencyKey { existingByKey[key] = task }
            }
        }
        var results: [Result<EnqueueResult, TaskQueueError>] = []
        var firstForKey: [String: UUID] = [:]
        for (id, task) in zip(ids, tasks) {
            if let created = byID[id] {
                if let key = task.idempotencyKey { firstForKey[key] = id }
                results.append(.success(EnqueueResult(task: created, created: true)))
                continue
            }
            let key = task.idempotencyKey ?? ""
            guard let existing = existingByKey[key] ?? firstForKey[key].flatMap({ byID[$0] }) else {
                results.append(.failure(TaskQueueError(.databaseError, "task with idempotency key \(key) was neither inserted nor found")))
                continue
            }
            guard existing.type == task.type, existing.priority == task.priority,
                (try? jsonEqual(existing.payload, task.payloadJSON)) == true
            else {
                results.append(
                    .failure(
                        TaskQueueError(
                            .idempotencyConflict,
                            "idempotency key \(key) belongs to a task with a different type, priority or payload",
                            taskID: existing.id
                        )))
                continue
            }
            results.append(.success(EnqueueResult(task: existing, created: false)))
        }
        return results
    }

    /// Records which stream message now carries each task.
    static func markPublished(_ marks: [PublishMark], session: PostgresSession) throws {
        guard !marks.isEmpty else { return }
        try session.execute(
            """
            WITH \(lockInIDOrder("$1::uuid[]"))
            UPDATE tasks t SET published_at = now(), published_seq = m.seq
            FROM unnest($1::uuid[], $2::int8[], $3::int[]) AS m(id, seq, generation), locked
            WHERE t.id = ANY($1::uuid[]) AND t.id = m.id AND locked.id = m.id AND t.publish_generation = m.generation
            """,
            [
                PostgresArray(marks.map(\.taskID)),
                PostgresArray(marks.map { Int64(bitPattern: $0.sequence) }),
                PostgresArray(marks.map(\.generation)),
            ])
    }

    func markPublished(_ marks: [PublishMark]) async throws {
        guard !marks.isEmpty else { return }
        try await pool.withSession { try Self.markPublished(marks, session: $0) }
    }

    /// Records that publishing these tasks failed, so the reconciler publishes them after its short
    /// grace rather than its confirmation wait.
    func markPublishFailed(_ ids: [UUID]) async throws {
        guard !ids.isEmpty else { return }
        try await pool.withSession { session in
            try session.execute(
                """
                WITH \(Self.lockInIDOrder("$1::uuid[]"))
                UPDATE tasks t SET publish_failed_at = now()
                FROM locked WHERE t.id = ANY($1::uuid[]) AND t.id = locked.id AND t.published_at IS NULL
                """, [PostgresArray(ids)])
        }
    }
}

/// Compares two JSON texts by value (key order and spacing do not matter).
func jsonEqual(_ lhs: String, _ rhs: String) throws -> Bool {
    func parse(_ text: String) throws -> NSObject? {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? NSObject
    }
    return try parse(lhs) == parse(rhs)
}
