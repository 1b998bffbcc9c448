import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import APIApp
@testable import TaskQueue

@Suite("REST API: limits and bulk cancel")
struct ControlRoutesTests {
    @Test func limitsAreSetReadListedAndLifted() async throws {
        try await APIHarness.with { harness, client in
            #expect(try await client.call(.get, "/api/v1/types/webhook/limits").status == .notFound)
            let set = try await client.call(.put, "/api/v1/types/webhook/limits", json: #"{"concurrency": 5, "rate": {"count": 100, "per_seconds": 60}}"#)
            #expect(set.status == .ok)
            #expect(set.body["type"] as? String == "webhook")
            #expect(set.body["concurrency"] as? Int == 5)
            #expect((set.body["rate"] as? [String: Any])?["count"] as? Int == 100)
            #expect((set.body["rate"] as? [String: Any])?["per_seconds"] as? Int == 60)
            #expect(set.body["running"] as? Int == 0)
            #expect(set.body["held"] as? Int == 0)
            #expect(try await harness.queue.limits(for: "webhook")?.limits == TaskTypeLimits(concurrency: 5, rate: .init(count: 100, per: .seconds(60))))

            // PUT replaces: the rate is gone when only a concurrency is sent.
            let replaced = try await client.call(.put, "/api/v1/types/webhook/limits", json: #"{"concurrency": 2}"#)
            #expect(replaced.body["rate"] is NSNull)
            let read = try await client.call(.get, "/api/v1/types/webhook/limits")
            #expect(read.status == .ok)
            #expect(read.body["concurrency"] as? Int == 2)
            let listed = try await client.call(.get, "/api/v1/limits")
            #expect((listed.body["limits"] as? [[String: Any]])?.map { $0["type"] as? String } == ["webhook"])

            #expect(try await client.call(.delete, "/api/v1/types/webhook/limits").status == .noContent)
            #expect(try await client.call(.delete, "/api/v1/types/webhook/limits").status == .notFound)
            #expect(try await harness.queue.allLimits().isEmpty)
        }
    }

    @Test func badLimitsAreFourHundredsNamingTheField() async throws {
        try await APIHarness.with { harness, client in
            let cases: [(String, String)] = [
                (#"{}"#, "concurrency"),
                (#"{"concurrency": 0}"#, "concurrency"),
                (#"{"concurrency": 1.5}"#, "concurrency"),
                (#"{"concurrency": "5"}"#, "concurrency"),
                (#"{"concurrency": true}"#, "concurrency"),
                (#"{"rate": 5}"#, "rate"),
                (#"{"rate": {"count": 5}}"#, "rate.per_seconds"),
                (#"{"rate": {"per_seconds": 5}}"#, "rate.count"),
                (#"{"rate": {"count": 5, "per_seconds": 0}}"#, "rate.per_seconds"),
                (#"{"rate": {"count": 5, "per_seconds": 86401}}"#, "rate.per_seconds"),
                (#"{"rate": {"count": 5, "per_seconds": 1, "burst": 2}}"#, "rate.burst"),
                (#"{"concurrency": 5, "extra": 1}"#, "extra"),
                (#"{"concurrency": 5"#, nil),
                (#"[1]"#, nil),
            ].map { ($0.0, $0.1 ?? "") }
            for (body, field) in cases {
                let response = try await client.call(.put, "/api/v1/types/webhook/limits", json: body)
                #expect(response.status == .badRequest, "\(body)")
                if !field.isEmpty { #expect(errorField(response.body) == field, "\(body)") }
            }
            let badType = try await client.call(.put, "/api/v1/types/has%20space/limits", json: #"{"concurrency": 1}"#)
            #expect(badType.status == .badRequest)
            #expect(errorField(badType.body) == "type")
            #expect(
                try await client.call(.put, "/api/v1/types/webhook/limits", json: #"{"concurrency": 1}"#, contentType: "text/plain").status
                    == .unsupportedMediaType)
            #expect(try await client.call(.post, "/api/v1/types/webhook/limits").status == .methodNotAllowed)
            #expect(try await harness.queue.allLimits().isEmpty)
        }
    }

    @Test func bulkCancelNeedsAFilterAndCountsWhatItDid() async throws {
        try await APIHarness.with { harness, client in
            let later = Date().addingTimeInterval(3600)
            let ids = try await harness.queue.enqueueBatch((0..<3).map { _ in NewTask(type: "report", runAt: later) }).map(\.task.id)
            _ = try await harness.queue.enqueue(NewTask(type: "other", runAt: later))
            for body in [
                #"{}"#, #"{"status": "completed"}"#, #"{"status": "bogus"}"#, #"{"type": 5}"#, #"{"created_after": "yesterday"}"#, #"{"color": "red"}"#,
            ] {
                let response = try await client.call(.post, "/api/v1/tasks/cancel", json: body)
                #expect(response.status == .badRequest, "\(body)")
            }
            let done = try await client.call(.post, "/api/v1/tasks/cancel", json: #"{"type": "report", "created_before": "2100-01-01T00:00:00Z"}"#)
            #expect(done.status == .ok)
            #expect(done.body["cancelled"] as? Int == 3)
            #expect(done.body["cancel_requested"] as? Int == 0)
            for id in ids { #expect(try await harness.queue.task(id)?.status == .cancelled) }
            #expect(try await harness.queue.counts().byStatus[.scheduled] == 1)
            // The fixed segment is not taken for a task id: other methods are 405 naming POST.
            for method in [HTTPRequest.Method.get, .options, .delete] {
                let response = try await client.call(method, "/api/v1/tasks/cancel")
                #expect(response.status == .methodNotAllowed, "\(method)")
                #expect(response.headers[.allow] == "POST", "\(method)")
            }
        }
    }

    @Test func cancellingARunningTaskAnswersTwoHundredTwoCancelRequested() async throws {
        try await APIHarness.with { harness, client in
            let id = try await harness.queue.enqueue(NewTask(type: "report")).task.id
            // Claimed as a worker would, so that the task is running.
            _ = try await harness.queue.store.claim([id], workerID: "w-api", lease: .seconds(30))
            let response = try await client.call(.post, "/api/v1/tasks/\(id.lowercasedText)/cancel")
            #expect(response.status == .accepted)
            #expect(response.body["state"] as? String == "cancel requested")
            #expect(response.body["status"] as? String == "running")
            #expect(response.body["cancel_requested_at"] is String)
            let task = try await client.call(.get, "/api/v1/tasks/\(id.lowercasedText)")
            #expect(task.body["cancel_requested_at"] is String)
        }
    }

    @Test func bulkRetryTakesFailedTasksOnly() async throws {
        try await APIHarness.with { harness, client in
            for body in [#"{}"#, #"{"status": "queued"}"#, #"{"priority": "urgent"}"#, #"{"type": "a b"}"#] {
                let response = try await client.call(.post, "/api/v1/tasks/retry", json: body)
                #expect(response.status == .badRequest, "\(body)")
            }
            let id = try await harness.queue.enqueue(NewTask(type: "report")).task.id
            _ = try await harness.queue.pool.withSession { session in
                try session.execute("UPDATE tasks SET status = 'failed', attempts = 1, finished_at = now() WHERE id = $1", [id])
            }
            let response = try await client.call(.post, "/api/v1/tasks/retry", json: #"{"status": "failed", "type": "report"}"#)
            #expect(response.status == .ok)
            #expect(response.body["retried"] as? Int == 1)
            #expect(try await harness.queue.task(id)?.status == .queued)
            #expect(try await client.call(.get, "/api/v1/tasks/retry").status == .methodNotAllowed)
        }
    }

    @Test func workersAreListedWithHowManyAreOnline() async throws {
        try await APIHarness.with { harness, client in
            let empty = try await client.call(.get, "/api/v1/workers")
            #expect(empty.status == .ok)
            #expect((empty.body["workers"] as? [Any])?.isEmpty == true)
            #expect(empty.body["online"] as? Int == 0)
            #expect(empty.body["heartbeat_seconds"] as? Int == 5)
            try await harness.queue.store.recordHeartbeat(
                workerID: "w-1", host: "box", pid: 42, version: TaskQueue.version, concurrency: 8, running: 2, starting: true)
            let one = try await client.call(.get, "/api/v1/workers")
            let worker = try #require((one.body["workers"] as? [[String: Any]])?.first)
            #expect(worker["id"] as? String == "w-1" && worker["online"] as? Bool == true && worker["running"] as? Int == 2)
            #expect(worker["stopped_at"] is NSNull)
            #expect(one.body["online"] as? Int == 1)
        }
    }
}
