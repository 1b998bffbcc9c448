import Hummingbird
import TaskFlowService
import Testing

@testable import APIApp

@Suite struct ReadinessTests {
    @Test func bodyAndStatusFollowTheChecks() {
        for (postgresql, nats) in [(true, true), (false, true), (true, false), (false, false)] {
            let readiness = Readiness(postgresql: postgresql, nats: nats)
            // Byte for byte what `/api/v1/ready` answered before the API and the worker shared it.
            let before = JSONValue.object([
                "status": .string(postgresql && nats ? "ready" : "unavailable"),
                "checks": .object(["nats": .string(nats ? "ok" : "unavailable"), "postgresql": .string(postgresql ? "ok" : "unavailable")]),
            ])
            #expect(Array(readiness.body.utf8) == before.bytes)
            #expect(readiness.response.status == (postgresql && nats ? .ok : .serviceUnavailable))
            #expect(readiness.response.headers[.contentType] == "application/json")
        }
        #expect(Readiness(postgresql: true, nats: false).body == #"{"status":"unavailable","checks":{"nats":"unavailable","postgresql":"ok"}}"#)
    }
}
