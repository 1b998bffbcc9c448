import Foundation
import Testing

@testable import TaskQueue

@Suite("Session settings: generic plans, custom ones on request, no JIT")
struct SessionSettingsTests {
    func show(_ setting: String, _ session: PostgresSession, planEachTime: Bool = false) throws -> String {
        try session.execute("SHOW \(setting)", planEachTime: planEachTime).rows[0].string(setting)
    }

    @Test func sessionsPlanGenericallyWithoutJITAndPlanEachTimeSwitchesForOneStatement() async throws {
        try await TestEnvironment.with { env in
            let settings = try await env.queue.pool.withSession { session in
                [
                    try show("jit", session), try show("plan_cache_mode", session),
                    try show("plan_cache_mode", session, planEachTime: true), try show("plan_cache_mode", session),
                ]
            }
            // JIT compiled reads of an unindexed table for a quarter of a second (2e21737); a
            // statement run with planEachTime is planned for its values, and the session goes
            // back to generic plans after it.
            #expect(settings == ["off", "force_generic_plan", "force_custom_plan", "force_generic_plan"])
        }
    }
}
