import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import APIApp
@testable import TaskQueue

@Suite("REST API: pause and resume")
struct PauseRoutesTests {
    @Test func pausingShowsInStatsAndBadNamesAreFourHundreds() async throws {
        try await APIHarness.with { harness, client in
            let paused = try await client.call(.post, "/api/v1/queues/low/pause")
            #expect(paused.status == .ok)
            #expect(paused.body["priority"] as? String == "low")
            #expect(paused.body["paused"] as? Bool == true)
            #expect(try await client.call(.post, "/api/v1/types/report.build/pause").body["paused"] as? Bool == true)

            let stats = try await client.call(.get, "/api/v1/stats")
            let pauses = try #require(stats.body["paused"] as? [String: Any])
            #expect(pauses["priorities"] as? [String] == ["low"])
            #expect(pauses["types"] as? [String] == ["report.build"])
            #expect(pauses["held"] as? Int == 0)
            #expect(try await harness.queue.pauses().priorities == [.low])

            #expect(try await client.call(.post, "/api/v1/queues/low/resume").body["paused"] as? Bool == false)
            let resumed = try await client.call(.post, "/api/v1/types/report.build/resume")
            #expect(resumed.status == .ok)
            #expect(resumed.body["released"] as? Int == 0)
            #expect(try await harness.queue.pauses().isEmpty)

            for path in ["/api/v1/queues/urgent/pause", "/api/v1/queues/urgent/resume"] {
                let response = try await client.call(.post, path)
                #expect(response.status == .badRequest, "\(path)")
                #expect(errorField(response.body) == "priority", "\(path)")
            }
            for path in ["/api/v1/types/has%20space/pause", "/api/v1/types/a%2Fb/resume"] {
                let response = try await client.call(.post, path)
                #expect(response.status == .badRequest, "\(path)")
                #expect(errorField(response.body) == "type", "\(path)")
            }
            #expect(try await client.call(.get, "/api/v1/queues/low/pause").status == .methodNotAllowed)
        }
    }
}
