import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import APIApp
@testable import TaskQueue

/// A page or redirect as the dashboard answers it.
struct Page {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    /// A cookie this response sets, as `name=value`.
    func cookie(_ name: String) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix(name + "=") }.map { String($0.prefix { $0 != ";" }) }
    }

    func setCookieLine(_ name: String) -> String? { headers[values: .setCookie].first { $0.hasPrefix(name + "=") } }

    /// The CSRF token the page's forms carry.
    var csrf: String? {
        guard let range = text.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }
}

extension TestClientProtocol {
    func page(_ uri: String, cookies: [String] = [], headers: HTTPFields = [:]) async throws -> Page {
        try await page(.get, uri, cookies: cookies, headers: headers)
    }

    func page(_ method: HTTPRequest.Method, _ uri: String, cookies: [String] = [], form: [String: String]? = nil, headers: HTTPFields = [:])
        async throws -> Page
    {
        var headers = headers
        if !cookies.isEmpty { headers[.cookie] = cookies.joined(separator: "; ") }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            body = ByteBuffer(
                string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Page(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}

@Suite("Dashboard: pages, sessions, CSRF, actions and the live overview")
struct DashboardRoutesTests {
    @Test func anOpenDashboardServesEveryPageWithASessionAndSaysItIsOpen() async throws {
        try await APIHarness.with { harness, client in
            let root = try await client.page("/")
            #expect(root.status == .seeOther)
            #expect(root.headers[.location] == "/dashboard")

            let overview = try await client.page("/dashboard")
            #expect(overview.status == .ok)
            #expect(overview.headers[.contentType] == "text/html; charset=utf-8")
            #expect(overview.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let session = try #require(overview.setCookieLine(DashboardSessions.cookieName))
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Strict"))
            #expect(overview.text.contains("id=\"open-banner\""))
            for id in ["count-completed", "latency-p50", "latency-p99", "dead-letters", "throughput", "workers-online", "backlog-high"] {
                #expect(overview.text.contains("id=\"\(id)\""), "overview lacks #\(id)")
            }
            #expect(overview.text.contains("<svg class=\"chart\""))
            // No worker has recorded itself: said loudly, not hidden.
            #expect(overview.text.contains("<p class=\"alarm\" id=\"no-workers\" role=\"alert\" >"))

            let cookie = try #require(overview.cookie(DashboardSessions.cookieName))
            for (path, marker) in [
                ("/dashboard/tasks", "id=\"task-filters\""), ("/dashboard/failed", "id=\"bulk-form\""),
                ("/dashboard/queues", "id=\"priority-controls\""), ("/dashboard/schedules", "<h1>Schedules</h1>"),
            ] {
                let page = try await client.page(path, cookies: [cookie])
                #expect(page.status == .ok, "\(path)")
                #expect(page.text.contains(marker), "\(path) lacks \(marker)")
                #expect(page.setCookieLine(DashboardSessions.cookieName) == nil, "\(path) started a second session")
            }
            let css = try await client.page("/dashboard/static/dashboard.css")
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await client.page("/dashboard/static/dashboard.js").headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(try await client.page("/dashboard/static/secrets.txt").status == .notFound)
            #expect(try await client.page(.post, "/dashboard").status == .methodNotAllowed)
            _ = harness
        }
    }

    @Test func theTaskPagesShowTheTaskAndRefuseBadInputWithFourHundreds() async throws {
        try await APIHarness.with { harness, client in
            let task = try await harness.queue.enqueue(NewTask(type: "page.test", payloadJSON: #"{"b":[1,2],"a":"<x>"}"#)).task
            let page = try await client.page("/dashboard/tasks/\(task.id.lowercasedText)")
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"task-status\" class=\"status status-queued\">queued"))
            // Pretty-printed in the order PostgreSQL stores the keys, and escaped.
            #expect(page.text.contains("{\n  &quot;a&quot;: &quot;&lt;x&gt;&quot;,\n  &quot;b&quot;: [\n    1,\n    2\n  ]\n}"))
            #expect(page.text.contains("only failed tasks can be retried; this one is queued"))

            let list = try await client.page("/dashboard/tasks?type=page.test")
            #expect(list.text.contains("data-task-id=\"\(task.id.lowercasedText)\""))
            let byID = try await client.page("/dashboard/tasks?q=\(task.id.lowercasedText)")
            #expect(byID.text.contains("data-task-id=\"\(task.id.lowercasedText)\""))
            let future = try await client.page("/dashboard/tasks?created_after=2999-01-01T00:00")
            #expect(future.status == .ok && future.text.contains("id=\"no-tasks\""))

            #expect(try await client.page("/dashboard/tasks/\(UUID().uuidString)").status == .notFound)
            #expect(try await client.page("/dashboard/tasks/not-a-uuid").status == .badRequest)
            for query in ["status=bogus", "priority=urgent", "created_after=yesterday", "q=abc", "type=has%20space", "cursor=zzz"] {
                let bad = try await client.page("/dashboard/tasks?\(query)")
                #expect(bad.status == .badRequest, "\(query)")
                #expect(bad.text.contains("class=\"flash flash-error\" role=\"alert\""), "\(query)")
            }
        }
    }

    @Test func actionsNeedTheSessionAndItsCSRFTokenAndReportTheirOutcome() async throws {
        try await APIHarness.with { harness, client in
            let first = try await client.page("/dashboard/queues")
            let cookie = try #require(first.cookie(DashboardSessions.cookieName))
            let csrf = try #require(first.csrf)

            let noSession = try await client.page(.post, "/dashboard/queues/low/pause", form: ["csrf": csrf])
            #expect(noSession.status == .forbidden && noSession.text.contains("session_required"))
            let noToken = try await client.page(.post, "/dashboard/queues/low/pause", cookies: [cookie], form: [:])
            #expect(noToken.status == .forbidden && noToken.text.contains("invalid_csrf"))
            let otherSession = try #require(try await client.page("/dashboard/queues").csrf)
            #expect(try await client.page(.post, "/dashboard/queues/low/pause", cookies: [cookie], form: ["csrf": otherSession]).status == .forbidden)
            #expect(
                try await client.page(
                    .post, "/dashboard/queues/low/pause", cookies: [cookie], headers: [.contentType: "application/json"]
                ).status == .unsupportedMediaType)
            #expect(try await harness.queue.pauses().isEmpty, "a refused action changed something")

            let paused = try await client.page(.post, "/dashboard/queues/low/pause", cookies: [cookie], form: ["csrf": csrf])
            #expect(paused.status == .found && paused.headers[.location] == "/dashboard/queues")
            #expect(try await harness.queue.pauses().priorities == [.low])
            let flash = try #require(paused.cookie(DashboardRoutes.flashCookie))
            let shown = try await client.page("/dashboard/queues", cookies: [cookie, flash])
            #expect(shown.text.contains("<p id=\"flash\" class=\"flash \" role=\"status\">Priority low paused.</p>"))
            #expect(shown.text.contains("id=\"resume-low\""))
            #expect(shown.setCookieLine(DashboardRoutes.flashCookie)?.contains("Max-Age=0") == true, "the message is shown once")
            #expect(try await client.page(.post, "/dashboard/queues/low/resume", cookies: [cookie], form: ["csrf": csrf]).status == .found)
            #expect(try await harness.queue.pauses().isEmpty)

            // A refused change comes back with its reason.
            let task = try await harness.queue.enqueue(NewTask(type: "act.test", payloadJSON: "{}")).task
            let retry = try await client.page(.post, "/dashboard/tasks/\(task.id.lowercasedText)/retry", cookies: [cookie], form: ["csrf": csrf])
            #expect(retry.status == .found)
            let reason = try await client.page(retry.headers[.location]!, cookies: [cookie, try #require(retry.cookie(DashboardRoutes.flashCookie))])
            #expect(reason.text.contains("flash flash-error\" role=\"alert\">cannot retry a task that is queued"))
            #expect(try await client.page(.post, "/dashboard/tasks/\(task.id.lowercasedText)/cancel", cookies: [cookie], form: ["csrf": csrf]).status == .found)
            #expect(try await harness.queue.task(task.id)?.status == .cancelled)

            // Types: pause, limits (bad numbers name the field), lift.
            let limits = try await client.page(
                .post, "/dashboard/types/limits", cookies: [cookie], form: ["csrf": csrf, "type": "act.test", "concurrency": "2"])
            #expect(limits.status == .found)
            #expect(try await harness.queue.limits(for: "act.test")?.limits.concurrency == 2)
            // Each row's fields say which type they belong to, for screen readers.
            #expect(
                try await client.page("/dashboard/queues", cookies: [cookie]).text.contains(
                    "Concurrency<span class=\"visually-hidden\"> of act.test</span>"))
            let badLimits = try await client.page(
                .post, "/dashboard/types/limits", cookies: [cookie], form: ["csrf": csrf, "type": "act.test", "rate_count": "x", "rate_seconds": "1"])
            let badFlash = try #require(badLimits.cookie(DashboardRoutes.flashCookie))
            #expect(
                try await client.page("/dashboard/queues", cookies: [cookie, badFlash]).text.contains("the rate&#39;s count must be a whole number above 0"))
            _ = try await client.page(.post, "/dashboard/types/limits", cookies: [cookie], form: ["csrf": csrf, "type": "act.test", "remove": "1"])
            #expect(try await harness.queue.limits(for: "act.test") == nil)
            _ = try await client.page(.post, "/dashboard/types/pause", cookies: [cookie], form: ["csrf": csrf, "type": "act.test"])
            #expect(try await harness.queue.pauses().types == ["act.test"])
            _ = try await client.page(.post, "/dashboard/types/resume", cookies: [cookie], form: ["csrf": csrf, "type": "act.test"])
            #expect(try await harness.queue.pauses().types.isEmpty)
            #expect(try await client.page(.post, "/dashboard/types/pause", cookies: [cookie], form: ["csrf": csrf, "type": "a/b"]).status == .found)
            #expect(try await harness.queue.pauses().types.isEmpty)

            // Schedules: trigger creates a task.
            _ = try await harness.queue.createSchedule(try Schedule("nightly report", cron: "@daily", type: "report.build"))
            let schedules = try await client.page("/dashboard/schedules", cookies: [cookie])
            #expect(schedules.text.contains("nightly report") && schedules.text.contains("@daily"))
            let trigger = try await client.page(.post, "/dashboard/schedules/trigger", cookies: [cookie], form: ["csrf": csrf, "name": "nightly report"])
            #expect(trigger.status == .found)
            #expect(try await harness.queue.schedule(named: "nightly report")?.lastFires.count == 1)
        }
    }

    @Test func aBulkActionNamesItsCountFirstAndActsOnlyWhenConfirmed() async throws {
        try await APIHarness.with { harness, client in
            let first = try await client.page("/dashboard/failed")
            let cookie = try #require(first.cookie(DashboardSessions.cookieName))
            let csrf = try #require(first.csrf)
            let tasks = try await harness.queue.enqueueBatch((0..<3).map { _ in NewTask(type: "bulk.test", payloadJSON: "{}") })
            _ = try await harness.queue.enqueue(NewTask(type: "bulk.other", payloadJSON: "{}"))

            let preview = try await client.page(
                .post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "cancel", "type": "bulk.test"])
            #expect(preview.status == .ok)
            #expect(preview.text.contains("data-count=\"3\""))
            #expect(preview.text.contains("This will cancel <strong>3</strong> unfinished tasks"))
            for task in tasks { #expect(try await harness.queue.task(task.task.id)?.status == .queued, "a preview changed a task") }

            let done = try await client.page(
                .post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "cancel", "type": "bulk.test", "confirm": "yes"])
            #expect(done.status == .found)
            for task in tasks { #expect(try await harness.queue.task(task.task.id)?.status == .cancelled) }
            let others = try await harness.queue.tasks(TaskQuery(type: "bulk.other"))
            #expect(others.tasks.map(\.status) == [.queued])

            let nothing = try await client.page(
                .post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "retry", "status": "failed", "type": "bulk.test"])
            #expect(nothing.text.contains("data-count=\"0\"") && !nothing.text.contains("id=\"confirm-form\""))
            let empty = try await client.page(.post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "cancel"])
            #expect(empty.status == .found, "an empty selection goes back with its reason")
            #expect(try await client.page(.post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "delete"]).status == .badRequest)
            let wrongState = try await client.page(
                .post, "/dashboard/bulk", cookies: [cookie], form: ["csrf": csrf, "action": "retry", "status": "queued"])
            #expect(wrongState.status == .found)
        }
    }

    @Test func withATokenTheDashboardAsksForItOnceAndKeepsASignedSession() async throws {
        try await APIHarness.with(tokens: ["s3cret-token"]) { _, client in
            let away = try await client.page("/dashboard/tasks?status=failed")
            #expect(away.status == .seeOther)
            #expect(away.headers[.location] == "/dashboard/login?next=%2Fdashboard%2Ftasks%3Fstatus%3Dfailed")
            let login = try await client.page("/dashboard/login?next=/dashboard/tasks")
            #expect(login.status == .ok && login.text.contains("id=\"login-form\"") && !login.text.contains("open-banner"))

            let wrong = try await client.page(.post, "/dashboard/login", form: ["token": "guess", "next": "/dashboard"])
            #expect(wrong.status == .unauthorized && wrong.cookie(DashboardSessions.cookieName) == nil)
            let offsite = try await client.page(.post, "/dashboard/login", form: ["token": "s3cret-token", "next": "//evil.example/x"])
            #expect(offsite.headers[.location] == "/dashboard", "login only returns inside the dashboard")
            let signedIn = try await client.page(.post, "/dashboard/login", form: ["token": "s3cret-token", "next": "/dashboard/queues"])
            #expect(signedIn.status == .found && signedIn.headers[.location] == "/dashboard/queues")
            let cookie = try #require(signedIn.cookie(DashboardSessions.cookieName))

            let overview = try await client.page("/dashboard", cookies: [cookie])
            #expect(overview.status == .ok && !overview.text.contains("open-banner") && overview.text.contains("Sign out"))
            // A session cookie changed by hand is no session.
            var tampered = cookie
            tampered.replaceSubrange(tampered.index(tampered.endIndex, offsetBy: -3)..., with: "000")
            #expect(try await client.page("/dashboard", cookies: [tampered]).status == .seeOther)
            #expect(try await client.page("/dashboard/live", headers: [.accept: "text/event-stream"]).status == .unauthorized)
            #expect(try await client.page(.post, "/dashboard/queues/low/pause", form: ["csrf": "x"]).status == .forbidden)
            // The REST API still wants its bearer token.
            #expect(try await client.page("/api/v1/tasks", cookies: [cookie]).status == .unauthorized)

            let csrf = try #require(overview.csrf)
            let out = try await client.page(.post, "/dashboard/logout", cookies: [cookie], form: ["csrf": csrf])
            #expect(out.status == .found && out.setCookieLine(DashboardSessions.cookieName)?.contains("Max-Age=0") == true)
        }
    }

    @Test func theLiveOverviewIsOneReadSharedByEveryWatcher() async throws {
        try await APIHarness.with { harness, client in
            #expect(try await client.page("/dashboard/live").status == .notAcceptable)

            let feed = OverviewFeed(queue: harness.queue, renderer: try DashboardRenderer(), interval: .milliseconds(200))
            let (a, first) = await feed.watch()
            let (b, second) = await feed.watch()
            #expect(await feed.watcherCount == 2)
            _ = try await harness.queue.enqueue(NewTask(type: "live.test", payloadJSON: "{}"))
            var firstIterator = first.makeAsyncIterator()
            var secondIterator = second.makeAsyncIterator()
            var update = ""
            // Updates come until one shows the new task as queued.
            for _ in 0..<50 {
                update = try #require(await firstIterator.next())
                if update.contains("\"status_queued\":\"1\"") { break }
            }
            #expect(update.contains("\"status_queued\":\"1\""))
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(update.utf8)) as? [String: Any])
            let fragments = try #require(parsed["fragments"] as? [String: String])
            #expect(fragments["chart"]?.hasPrefix("<svg") == true)
            #expect(parsed["workers_online"] as? Int == 0)
            #expect(await secondIterator.next() != nil)
            await feed.unwatch(a)
            await feed.unwatch(b)
            #expect(await feed.watcherCount == 0)
            #expect(await firstIterator.next() == nil, "an unwatched stream ends")
        }
    }
}
