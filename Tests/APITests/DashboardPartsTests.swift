import Foundation
import Testing

@testable import APIApp
@testable import TaskQueue

@Suite("Dashboard parts: formatting, the chart, sessions")
struct DashboardPartsTests {
    @Test func payloadsArePrettyPrintedInTheirOwnOrder() {
        #expect(
            DashboardFormat.prettyJSON(#"{"z":1,"a":{"b":[],"c":{}},"s":"x,{y}:\"q\""}"#) == """
                {
                  "z": 1,
                  "a": {
                    "b": [],
                    "c": {}
                  },
                  "s": "x,{y}:\\"q\\""
                }
                """)
        #expect(DashboardFormat.prettyJSON("42") == "42")
        #expect(DashboardFormat.prettyJSON("[]") == "[]")
    }

    @Test func numbersAndDurationsReadWell() {
        #expect(DashboardFormat.count(0) == "0")
        #expect(DashboardFormat.count(1_234_567) == "1,234,567")
        #expect(DashboardFormat.count(-1000) == "-1,000")
        #expect(DashboardFormat.duration(.microseconds(800)) == "0.8 ms")
        #expect(DashboardFormat.duration(.milliseconds(12)) == "12 ms")
        #expect(DashboardFormat.duration(.milliseconds(1400)) == "1.4 s")
        #expect(DashboardFormat.duration(nil) == "–")
        #expect(DashboardFormat.parseTime("2030-01-02T03:04") == DashboardFormat.parseTime("2030-01-02T03:04:00Z"))
        #expect(DashboardFormat.parseTime("2030-01-02T03:04") != nil)
        #expect(DashboardFormat.parseTime("soon") == nil)
    }

    @Test func theChartScalesToItsPeakAndSaysWhatItShows() {
        #expect(ThroughputChart.niceCeiling(0) == 1)
        #expect(ThroughputChart.niceCeiling(3) == 5)
        #expect(ThroughputChart.niceCeiling(12_500) == 20_000)
        let series = FinishedSeries(
            start: Date(), step: .seconds(10), completed: [0, 100, 50] + Array(repeating: 0, count: 87), failed: Array(repeating: 10, count: 90))
        let svg = ThroughputChart.svg(series)
        #expect(svg.hasPrefix("<svg class=\"chart\""))
        let label = "Tasks finished per second over the last 15 minutes: completed 0/s in the latest 10 seconds, peak 10/s; failed 1/s in the latest 10 seconds"
        #expect(svg.contains("aria-label=\"\(label)\""))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("−15 min") && svg.contains(">now<"))
    }

    @Test func sessionsAreSignedAndTheirCSRFTokensBoundToThem() {
        let sessions = DashboardSessions(tokens: ["one", "two"])
        let (session, cookie) = sessions.start()
        #expect(cookie.httpOnly && cookie.sameSite == .strict)
        #expect(sessions.isValidCSRF(sessions.csrfToken(for: session), for: session))
        let (other, _) = sessions.start()
        #expect(!sessions.isValidCSRF(sessions.csrfToken(for: other), for: session))
        #expect(!sessions.isValidCSRF(nil, for: session))
        // Another set of tokens signs differently: rotating them ends every session.
        #expect(DashboardSessions(tokens: ["three"]).csrfToken(for: session) != sessions.csrfToken(for: session))
        #expect(sessions.acceptsToken("two") && !sessions.acceptsToken("tw") && !sessions.acceptsToken(""))
        #expect(DashboardRoutes.safeNext("/dashboard/tasks?x=1") == "/dashboard/tasks?x=1")
        for unsafe in ["https://evil.example", "//evil.example", "/dashboard\\@evil", "/api/v1/tasks"] {
            #expect(DashboardRoutes.safeNext(unsafe) == "/dashboard", "\(unsafe)")
        }
    }
}
