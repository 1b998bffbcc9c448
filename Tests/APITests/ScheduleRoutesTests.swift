import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import APIApp
@testable import TaskQueue

@Suite("REST API: schedules")
struct ScheduleRoutesTests {
    @Test func createReadChangePauseTriggerAndDelete() async throws {
        try await APIHarness.with { _, client in
            let created = try await client.call(
                .post, "/api/v1/schedules",
                json: #"{"name":"daily report","cron":"30 6 * * MON-FRI","type":"report.build","payload":{"scope":"all"},"#
                    + #""timezone":"Europe/Paris","missed":"once"}"#
            )
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/api/v1/schedules/daily%20report")
            #expect(created.body["name"] as? String == "daily report")
            #expect(created.body["cron"] as? String == "30 6 * * MON-FRI")
            #expect(created.body["timezone"] as? String == "Europe/Paris")
            #expect(created.body["missed"] as? String == "once")
            #expect(created.body["priority"] as? String == "normal")
            #expect(created.body["paused"] as? Bool == false)
            #expect((created.body["payload"] as? [String: Any])?["scope"] as? String == "all")
            #expect((created.body["next_fires"] as? [String])?.count == 5)
            #expect((created.body["last_fires"] as? [Any])?.isEmpty == true)

            let again = try await client.call(.post, "/api/v1/schedules", json: #"{"name":"daily report","cron":"@daily","type":"x"}"#)
            #expect(again.status == .conflict)
            #expect(errorCode(again.body) == "schedule_exists")

            let fetched = try await client.call(.get, "/api/v1/schedules/daily%20report")
            #expect(fetched.status == .ok)
            #expect(fetched.body["next_fires"] as? [String] == created.body["next_fires"] as? [String])
            let list = try await client.call(.get, "/api/v1/schedules")
            #expect((list.body["schedules"] as? [[String: Any]])?.map { $0["name"] as? String } == ["daily report"])

            let patched = try await client.call(.patch, "/api/v1/schedules/daily%20report", json: #"{"priority":"high","cron":"@every 90s"}"#)
            #expect(patched.status == .ok)
            #expect(patched.body["priority"] as? String == "high")
            #expect(patched.body["cron"] as? String == "@every 90s")
            #expect(patched.body["timezone"] as? String == "Europe/Paris")
            #expect(patched.body["next_fires"] as? [String] != created.body["next_fires"] as? [String])

            let paused = try await client.call(.post, "/api/v1/schedules/daily%20report/pause")
            #expect(paused.status == .ok)
            #expect(paused.body["paused"] as? Bool == true)
            #expect((paused.body["next_fires"] as? [Any])?.isEmpty == true)
            #expect(try await client.call(.post, "/api/v1/schedules/daily%20report/resume").body["paused"] as? Bool == false)

            let triggered = try await client.call(.post, "/api/v1/schedules/daily%20report/trigger")
            #expect(triggered.status == .created)
            #expect(triggered.body["schedule"] as? String == "daily report")
            #expect(triggered.body["type"] as? String == "report.build")
            #expect(triggered.body["priority"] as? String == "high")
            let taskID = try #require(triggered.body["id"] as? String)
            #expect(try await client.call(.get, "/api/v1/tasks/\(taskID)").body["schedule"] as? String == "daily report")
            let fires = try await client.call(.get, "/api/v1/schedules/daily%20report").body["last_fires"] as? [[String: Any]]
            #expect(fires?.first?["task_id"] as? String == taskID)
            #expect(fires?.first?["manual"] as? Bool == true)

            #expect(try await client.call(.delete, "/api/v1/schedules/daily%20report").status == .noContent)
            for (method, path) in [
                (HTTPRequest.Method.get, "/api/v1/schedules/daily%20report"), (.delete, "/api/v1/schedules/daily%20report"),
                (.post, "/api/v1/schedules/nope/pause"), (.post, "/api/v1/schedules/nope/resume"), (.post, "/api/v1/schedules/nope/trigger"),
            ] {
                let response = try await client.call(method, path)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(errorCode(response.body) == "schedule_not_found", "\(method) \(path)")
            }
            let patchMissing = try await client.call(.patch, "/api/v1/schedules/nope", json: #"{"priority":"low"}"#)
            #expect(patchMissing.status == .notFound)
            // The task stays after its schedule is gone.
            #expect(try await client.call(.get, "/api/v1/tasks/\(taskID)").status == .ok)
        }
    }

    @Test func badSchedulesGetAFourHundredNamingTheField() async throws {
        try await APIHarness.with { _, client in
            let cases: [(String, String)] = [
                (#"{"cron":"@daily","type":"x"}"#, "name"),
                (#"{"name":"a","type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"@daily"}"#, "type"),
                (#"{"name":"a","cron":"61 * * * *","type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"* * *","type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"@every 0s","type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"0 0 31 2 *","type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"@daily","type":"x","timezone":"Moon/Base"}"#, "timezone"),
                (#"{"name":"a","cron":"@daily","type":"bad type"}"#, "type"),
                (#"{"name":"a","cron":"@daily","type":"x","priority":"urgent"}"#, "priority"),
                (#"{"name":"a","cron":"@daily","type":"x","missed":"all"}"#, "missed"),
                (#"{"name":"a","cron":"@daily","type":"x","max_attempts":0}"#, "max_attempts"),
                (#"{"name":"a","cron":"@daily","type":"x","max_attempts":true}"#, "max_attempts"),
                (#"{"name":"a/b","cron":"@daily","type":"x"}"#, "name"),
                (#"{"name":"","cron":"@daily","type":"x"}"#, "name"),
                (#"{"name":5,"cron":"@daily","type":"x"}"#, "name"),
                (#"{"name":"a","cron":5,"type":"x"}"#, "cron"),
                (#"{"name":"a","cron":"@daily","type":"x","when":"now"}"#, "when"),
                (#"{"name":"a","cron":"@daily","type":"x","payload":{"s":"\u0000"}}"#, "payload"),
            ]
            for (body, field) in cases {
                let response = try await client.call(.post, "/api/v1/schedules", json: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(errorField(response.body) == field, "\(body)")
            }
            #expect(try await client.call(.post, "/api/v1/schedules", json: "{").status == .badRequest)
            #expect(try await client.call(.post, "/api/v1/schedules", json: "[]").status == .badRequest)
            #expect(try await client.call(.post, "/api/v1/schedules", json: "{}", contentType: "text/plain").status == .unsupportedMediaType)
            // Nothing was saved by any of them.
            #expect((try await client.call(.get, "/api/v1/schedules").body["schedules"] as? [Any])?.isEmpty == true)

            _ = try await client.call(.post, "/api/v1/schedules", json: #"{"name":"a","cron":"@daily","type":"x"}"#)
            let rename = try await client.call(.patch, "/api/v1/schedules/a", json: #"{"name":"b"}"#)
            #expect(rename.status == .badRequest)
            #expect(errorField(rename.body) == "name")
            let badCron = try await client.call(.patch, "/api/v1/schedules/a", json: #"{"cron":"nope"}"#)
            #expect(errorField(badCron.body) == "cron")
            #expect(try await client.call(.get, "/api/v1/schedules/a").body["cron"] as? String == "@daily")
            #expect(try await client.call(.put, "/api/v1/schedules/a").status == .methodNotAllowed)
        }
    }
}
