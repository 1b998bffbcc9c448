import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import APIApp
@testable import TaskQueue

@Suite("REST API routes")
struct TaskRoutesTests {
    @Test func createReadListAndTheirErrors() async throws {
        try await APIHarness.with { _, client in
            let created = try await client.call(
                .post, "/api/v1/tasks", json: #"{"type":"email.send","payload":{"to":"a@b.c"},"priority":"high","max_attempts":3}"#)
            #expect(created.status == .created)
            let id = try #require(created.body["id"] as? String)
            #expect(created.headers[.location] == "/api/v1/tasks/\(id)")
            #expect(created.body["status"] as? String == "queued")
            #expect(created.body["priority"] as? String == "high")
            #expect(created.body["max_attempts"] as? Int == 3)
            #expect(created.body["published"] as? Bool == true)
            #expect((created.body["payload"] as? [String: Any])?["to"] as? String == "a@b.c")
            #expect(created.headers[HTTPField.Name("X-Request-Id")!] != nil)

            let fetched = try await client.call(.get, "/api/v1/tasks/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.body["id"] as? String == id)
            let executions = try await client.call(.get, "/api/v1/tasks/\(id)/executions")
            #expect(executions.status == .ok)
            #expect((executions.body["executions"] as? [Any])?.isEmpty == true)

            #expect(try await client.call(.get, "/api/v1/tasks/not-a-uuid").status == .badRequest)
            let unknown = try await client.call(.get, "/api/v1/tasks/\(UUID().uuidString)")
            #expect(unknown.status == .notFound)
            #expect(errorCode(unknown.body) == "task_not_found")
            #expect(try await client.call(.get, "/api/v1/tasks/\(UUID().uuidString)/executions").status == .notFound)

            _ = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"report","delay_seconds":60}"#)
            let list = try await client.call(.get, "/api/v1/tasks?limit=1")
            #expect(list.status == .ok)
            #expect((list.body["tasks"] as? [[String: Any]])?.first?["type"] as? String == "report")
            let cursor = try #require(list.body["next_cursor"] as? String)
            let next = try await client.call(.get, "/api/v1/tasks?limit=1&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
            #expect((next.body["tasks"] as? [[String: Any]])?.first?["id"] as? String == id)
            #expect(next.body["next_cursor"] is NSNull)
            let scheduled = try await client.call(.get, "/api/v1/tasks?status=scheduled&priority=normal&type=report")
            #expect((scheduled.body["tasks"] as? [Any])?.count == 1)

            for bad in ["limit=0", "limit=201", "limit=ten", "limit=", "status=done", "status=", "priority=urgent", "priority=", "cursor=nope"] {
                let response = try await client.call(.get, "/api/v1/tasks?\(bad)")
                #expect(response.status == .badRequest, "\(bad)")
                #expect(errorField(response.body) == String(bad.split(separator: "=")[0]), "\(bad)")
            }
        }
    }

    @Test func badBodiesGetAClearFourHundred() async throws {
        try await APIHarness.with { _, client in
            let cases: [(String, String, String?)] = [
                ("{not json", "malformed_json", nil),
                ("[1,2]", "invalid_body", nil),
                (#"{"payload":{}}"#, "missing_type", "type"),
                (#"{"type":42}"#, "invalid_type", "type"),
                (#"{"type":""}"#, "invalid_type", "type"),
                (#"{"type":"has spaces"}"#, "invalid_type", "type"),
                ("{\"type\":\"\(String(repeating: "a", count: 129))\"}", "invalid_type", "type"),
                (#"{"type":"t","priority":"urgent"}"#, "invalid_priority", "priority"),
                (#"{"type":"t","priority":1}"#, "invalid_priority", "priority"),
                (#"{"type":"t","max_attempts":0}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","max_attempts":101}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","max_attempts":"5"}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","max_attempts":true}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","max_attempts":2.5}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","run_at":"tomorrow"}"#, "invalid_run_at", "run_at"),
                (#"{"type":"t","run_at":"2030-01-01T00:00:00Z","delay_seconds":5}"#, "conflicting_schedule", "run_at"),
                (#"{"type":"t","delay_seconds":-1}"#, "invalid_delay_seconds", "delay_seconds"),
                (#"{"type":"t","delay_seconds":"soon"}"#, "invalid_delay_seconds", "delay_seconds"),
                (#"{"type":"t","colour":"red"}"#, "unknown_field", "colour"),
                (#"{"type":"t","priority":null}"#, "invalid_priority", "priority"),
                (#"{"type":"t","max_attempts":null}"#, "invalid_max_attempts", "max_attempts"),
                (#"{"type":"t","run_at":null}"#, "invalid_run_at", "run_at"),
                (#"{"type":"t","delay_seconds":null}"#, "invalid_delay_seconds", "delay_seconds"),
                // Valid JSON, but PostgreSQL's jsonb cannot store a NUL character.
                (#"{"type":"t","payload":{"s":"a\u0000b"}}"#, "invalid_payload", "payload"),
            ]
            for (body, code, field) in cases {
                let response = try await client.call(.post, "/api/v1/tasks", json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(errorCode(response.body) == code, "\(body)")
                if let field { #expect(errorField(response.body) == field, "\(body)") }
                #expect((response.body["error"] as? [String: Any])?["message"] is String)
            }
            let plain = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t"}"#, contentType: "text/plain")
            #expect(plain.status == .unsupportedMediaType)
            #expect(errorCode(plain.body) == "unsupported_media_type")
            let ok = try await client.call(
                .post, "/api/v1/tasks", json: #"{"type":"t","run_at":"2027-01-01T00:00:00.5Z"}"#,
                contentType: "application/json; charset=utf-8")
            #expect(ok.status == .created)
            #expect(ok.body["status"] as? String == "scheduled")
        }
    }

    @Test func anOversizedBodyIsRefused() async throws {
        try await APIHarness.with(maxPayloadBytes: 2048) { harness, client in
            let big = "{\"type\":\"t\",\"payload\":\"\(String(repeating: "x", count: 4000))\"}"
            let response = try await client.call(.post, "/api/v1/tasks", json: big)
            #expect(response.status == .contentTooLarge)
            #expect(errorCode(response.body) == "payload_too_large")
            #expect(try await harness.queue.counts().byStatus.values.reduce(0, +) == 0)
        }
    }

    @Test func idempotencyKeysReturnTheSameTaskOrConflict() async throws {
        try await APIHarness.with { harness, client in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-7"]
            let first = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t","payload":{"n":1}}"#, headers: key)
            let again = try await client.call(.post, "/api/v1/tasks", json: #"{"payload":{"n":1},"type":"t"}"#, headers: key)
            #expect(first.status == .created)
            #expect(again.status == .ok)
            #expect(first.body["id"] as? String == again.body["id"] as? String)
            let different = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t","payload":{"n":2}}"#, headers: key)
            #expect(different.status == .conflict)
            #expect(errorCode(different.body) == "idempotency_conflict")
            #expect(try await harness.queue.counts().byStatus[.queued] == 1)
        }
    }

    @Test func cancelAndRetryFollowTheTaskLife() async throws {
        try await APIHarness.with { harness, client in
            let created = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t","delay_seconds":300}"#)
            let id = try #require(created.body["id"] as? String)
            let retryQueued = try await client.call(.post, "/api/v1/tasks/\(id)/retry")
            #expect(retryQueued.status == .conflict)
            #expect(errorCode(retryQueued.body) == "invalid_state")
            let cancelled = try await client.call(.post, "/api/v1/tasks/\(id)/cancel")
            #expect(cancelled.status == .ok)
            #expect(cancelled.body["status"] as? String == "cancelled")
            #expect(try await client.call(.post, "/api/v1/tasks/\(id)/cancel").status == .conflict)
            #expect(try await client.call(.post, "/api/v1/tasks/\(UUID().uuidString)/cancel").status == .notFound)
            #expect(try await client.call(.post, "/api/v1/tasks/\(UUID().uuidString)/retry").status == .notFound)
            #expect(try await client.call(.post, "/api/v1/tasks/zzz/retry").status == .badRequest)

            // A failed task can be retried.
            let failing = try await harness.queue.enqueue(NewTask(type: "t", maxAttempts: 1))
            try await harness.queue.pool.withSession { session in
                try session.execute("UPDATE tasks SET status = 'failed', attempts = 1, finished_at = now() WHERE id = $1", [failing.task.id])
            }
            let retried = try await client.call(.post, "/api/v1/tasks/\(failing.task.id.uuidString)/retry")
            #expect(retried.status == .ok)
            #expect(retried.body["status"] as? String == "queued")
        }
    }

    @Test func wrongMethodsAndUnknownPaths() async throws {
        try await APIHarness.with { _, client in
            let delete = try await client.call(.delete, "/api/v1/tasks")
            #expect(delete.status == .methodNotAllowed)
            #expect(delete.headers[.allow] == "GET, POST")
            #expect(errorCode(delete.body) == "method_not_allowed")
            #expect(try await client.call(.put, "/api/v1/tasks/\(UUID().uuidString)").status == .methodNotAllowed)
            #expect(try await client.call(.get, "/api/v1/tasks/\(UUID().uuidString)/cancel").status == .methodNotAllowed)
            #expect(try await client.call(.post, "/api/v1/health").status == .methodNotAllowed)
            let missing = try await client.call(.get, "/api/v2/nothing")
            #expect(missing.status == .notFound)
            #expect(errorCode(missing.body) == "not_found")
        }
    }

    @Test func bearerTokensGuardTaskRoutesOnly() async throws {
        try await APIHarness.with(tokens: ["alpha", "beta"]) { _, client in
            let none = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t"}"#)
            #expect(none.status == .unauthorized)
            #expect(errorCode(none.body) == "unauthorized")
            let wrong = try await client.call(.get, "/api/v1/tasks", headers: [.authorization: "Bearer gamma"])
            #expect(wrong.status == .unauthorized)
            let basic = try await client.call(.get, "/api/v1/tasks", headers: [.authorization: "Basic YWxwaGE="])
            #expect(basic.status == .unauthorized)
            let right = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t"}"#, headers: [.authorization: "Bearer beta"])
            #expect(right.status == .created)
            #expect(try await client.call(.get, "/api/v1/health").status == .ok)
            #expect(try await client.call(.get, "/api/v1/ready").status == .ok)
            #expect(try await client.call(.get, "/metrics").status == .ok)
        }
    }

    @Test func healthReadyStatsMetricsAndTheSpec() async throws {
        try await APIHarness.with { _, client in
            #expect(try await client.call(.get, "/api/v1/health").body["status"] as? String == "ok")
            let ready = try await client.call(.get, "/api/v1/ready")
            #expect(ready.status == .ok)
            #expect((ready.body["checks"] as? [String: String]) == ["postgresql": "ok", "nats": "ok"])
            let metered = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"metered","priority":"low"}"#)
            #expect(metered.status == .created, "\(metered.body)")
            let stats = try await client.call(.get, "/api/v1/stats")
            #expect(stats.status == .ok)
            #expect(((stats.body["tasks"] as? [String: Any])?["by_status"] as? [String: Int])?["queued"] == 1)
            #expect(((stats.body["tasks"] as? [String: Any])?["by_priority"] as? [String: Int])?["low"] == 1)
            #expect((stats.body["stream"] as? [String: Any])?["messages"] as? Int == 1)
            #expect(stats.body["pruned"] as? [String: Int] == ["completed": 0, "failed": 0, "cancelled": 0])
            #expect((stats.body["consumers"] as? [Any])?.count == 3)
            #expect(stats.body["dead_letters"] as? Int == 0)
            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(metrics.contains("taskflow_tasks_created_total"))
            #expect(metrics.contains(#"type="metered""#))
            // Request metrics, per route pattern, method and status; errors counted by status.
            let missing = try await client.call(.get, "/api/v1/tasks/\(UUID().uuidString.lowercased())")
            #expect(missing.status == .notFound)
            // The status recorded is the one the client got, also for an error from the queue.
            let cancelMissing = try await client.call(.post, "/api/v1/tasks/\(UUID().uuidString.lowercased())/cancel")
            #expect(cancelMissing.status == .notFound)
            let afterError = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            let lines = afterError.split(separator: "\n")
            func line(_ prefix: String, _ fragments: String...) -> Bool {
                lines.contains { line in line.hasPrefix(prefix) && fragments.allSatisfy { line.contains($0) } }
            }
            #expect(line("hb_requests{", #"http_route="/api/v1/tasks""#, #"http_request_method="POST""#, #"http_response_status_code="201""#))
            #expect(line("http_server_request_duration", #"http_route="/api/v1/tasks""#, #"http_response_status_code="201""#))
            #expect(line("hb_request_errors{", #"http_route="/api/v1/tasks/{id}""#, #"error_type="404""#))
            // Only failed requests have an error series.
            #expect(!line("hb_request_errors{", #"error_type="201""#))
            #expect(line("hb_request_errors{", #"http_route="/api/v1/tasks/{id}/cancel""#, #"error_type="404""#))
            #expect(!line("hb_requests{", #"http_route="/api/v1/tasks/{id}/cancel""#, #"http_response_status_code="500""#))
            #expect(line("http_server_active_requests{", #"http_request_method="GET""#))
            let spec = try await client.execute(uri: "/api/v1/openapi.yaml", method: .get) { ($0.status, String(buffer: $0.body)) }
            #expect(spec.0 == .ok)
            #expect(spec.1.hasPrefix("openapi: 3"))
        }
    }

    @Test func postgresDownIsAServiceUnavailableWithRetryAfter() async throws {
        let configuration = TaskQueueConfiguration(
            postgres: PostgresConfiguration(url: "postgres://taskflow@127.0.0.1:1/taskflow?connect_timeout=2", poolSize: 1),
            nats: NATSConfiguration(url: ProcessInfo.processInfo.environment["NATS_URL"] ?? "nats://127.0.0.1:14222"),
            streamName: "T_API_DOWN", subjectPrefix: "t_api_down", runMigrations: false
        )
        let queue = try await TaskQueue.connect(configuration: configuration)
        let app = Application(router: Routes.build(queue: queue, settings: APISettings(queue: configuration), metrics: sharedMetrics))
        try await app.test(.router) { client in
            let created = try await client.call(.post, "/api/v1/tasks", json: #"{"type":"t"}"#)
            #expect(created.status == .serviceUnavailable)
            #expect(created.headers[.retryAfter] == "5")
            #expect(errorCode(created.body) == "database_unavailable")
            #expect(try await client.call(.get, "/api/v1/tasks/\(UUID().uuidString)").status == .serviceUnavailable)
            let ready = try await client.call(.get, "/api/v1/ready")
            #expect(ready.status == .serviceUnavailable)
            #expect((ready.body["checks"] as? [String: String])?["postgresql"] == "unavailable")
        }
        try? await queue.nats.deleteStream("T_API_DOWN")
        try? await queue.nats.deleteStream("T_API_DOWN_DLQ")
    }
}
