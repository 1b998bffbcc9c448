import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import TaskQueue

/// The web dashboard under `/dashboard`: pages rendered on the server, a live overview by
/// server-sent events, and forms for every action (each needs the session's CSRF token).
struct DashboardRoutes: Sendable {
    let queue: TaskQueue
    let sessions: DashboardSessions
    let renderer: DashboardRenderer
    let feed: OverviewFeed
    let maxFormBytes = 64 * 1024

    init(queue: TaskQueue, tokens: [String]) throws {
        self.queue = queue
        sessions = DashboardSessions(tokens: tokens)
        renderer = try DashboardRenderer()
        feed = OverviewFeed(queue: queue, renderer: renderer)
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Response.redirect(to: "/dashboard", type: .normal) }
        let dashboard = router.group("/dashboard")
        dashboard.get("static/:file") { _, context in try asset(context) }
        dashboard.get("login") { request, _ in loginPage(request, failed: false) }
        dashboard.post("login") { request, _ in try await login(request) }
        dashboard.post("logout") { request, _ in try await action(request) { _, _ in logout() } }
        dashboard.get { request, _ in try await page(request) { try await overview($0) } }
        dashboard.get("live") { request, _ in try await live(request) }
        dashboard.get("tasks") { request, _ in try await page(request) { try await tasks(request, $0) } }
        dashboard.get("tasks/:id") { request, context in try await page(request) { try await task(try taskID(context), $0) } }
        dashboard.post("tasks/:id/cancel") { request, context in
            try await action(request) { _, _ in
                let id = try taskID(context)
                return try await flashing(to: "/dashboard/tasks/\(id.lowercasedText)") {
                    let task = try await queue.cancel(id)
                    return task.status == .running ? "Cancel requested: the worker stops the task within about a second." : "Task cancelled."
                }
            }
        }
        dashboard.post("tasks/:id/retry") { request, context in
            try await action(request) { _, _ in
                let id = try taskID(context)
                return try await flashing(to: "/dashboard/tasks/\(id.lowercasedText)") {
                    _ = try await queue.retry(id)
                    return "Task put back in the queue with a fresh set of attempts."
                }
            }
        }
        dashboard.get("failed") { request, _ in try await page(request) { try await failed($0) } }
        dashboard.post("bulk") { request, _ in try await action(request) { session, form in try await bulk(form, session, request) } }
        dashboard.get("queues") { request, _ in try await page(request) { try await queues($0) } }
        dashboard.post("queues/:priority/:verb") { request, context in
            try await action(request) { _, _ in
                let priority = try Routes.priorityParameter(context)
                let verb = try context.parameters.require("verb")
                return try await flashing(to: "/dashboard/queues") {
                    switch verb {
                    case "pause": _ = try await queue.pause(priority)
                    case "resume": _ = try await queue.resume(priority)
                    default: throw APIError(.notFound, "not_found", "no such action")
                    }
                    return "Priority \(priority.rawValue) \(verb == "pause" ? "paused" : "resumed")."
                }
            }
        }
        dashboard.post("types/:verb") { request, context in
            try await action(request) { _, form in
                let verb = try context.parameters.require("verb")
                return try await flashing(to: "/dashboard/queues") { try await typeAction(verb, form) }
            }
        }
        dashboard.get("schedules") { request, _ in try await page(request) { try await schedules($0) } }
        dashboard.post("schedules/:verb") { request, context in
            try await action(request) { _, form in
                let verb = try context.parameters.require("verb")
                return try await flashing(to: "/dashboard/schedules") { try await scheduleAction(verb, form) }
            }
        }
    }

    // MARK: Sessions, pages and actions

    /// A page for a signed-in (or, when open, any) visitor; a visitor without a session is sent to
    /// the login page, or gets one at once when the dashboard is open.
    func page(_ request: Request, _ build: (DashboardSessions.Session) async throws -> DashboardPage) async throws -> Response {
        var started: Cookie?
        let session: DashboardSessions.Session
        if let existing = sessions.session(of: request) {
            session = existing
        } else if sessions.requiresLogin {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Response.redirect(to: "/dashboard/login?next=" + Self.encode(next), type: .normal)
        } else {
            let (fresh, cookie) = sessions.start()
            session = fresh
            started = cookie
        }
        let content = try await build(session)
        var response = render(content.template, content.context, session: session, request: request, status: content.status)
        if let started { response.setCookie(started) }
        return response
    }

    /// A page with the layout's shared parts: the session's CSRF token, the banner when open, and
    /// the message the last action left (shown once).
    func render(
        _ template: String, _ context: [String: Any], session: DashboardSessions.Session, request: Request, status: HTTPResponse.Status = .ok
    ) -> Response {
        var full = context
        full["csrf"] = sessions.csrfToken(for: session)
        full["open"] = !sessions.requiresLogin
        full["login"] = sessions.requiresLogin
        full["nav_\(template)"] = true
        var flashShown = false
        if let flash = request.cookies[Self.flashCookie]?.value, let text = flash.removingPercentEncoding, text.count > 2 {
            full["flash"] = String(text.dropFirst(2))
            full["flash_error"] = text.hasPrefix("e:")
            flashShown = true
        }
        var response = renderer.page(template, full, status: status)
        if flashShown { response.setCookie(Cookie(name: Self.flashCookie, value: "", maxAge: 0, path: "/dashboard", sameSite: .strict)) }
        return response
    }

    /// A state-changing form: it needs a session and that session's CSRF token.
    func action(_ request: Request, _ body: (DashboardSessions.Session, [String: String]) async throws -> Response) async throws -> Response {
        guard let session = sessions.session(of: request) else {
            throw APIError(.forbidden, "session_required", "this action needs a dashboard session; open the dashboard and sign in")
        }
        let form = try await Self.form(request, maxBytes: maxFormBytes)
        guard sessions.isValidCSRF(form["csrf"], for: session) else {
            throw APIError(.forbidden, "invalid_csrf", "the form's CSRF token is missing or not this session's; reload the page and try again")
        }
        return try await body(session, form)
    }

    static let flashCookie = "taskflow_flash"

    /// Runs a change and goes back to `path` with its outcome, or the reason it was refused, shown.
    func flashing(to path: String, _ change: () async throws -> String) async throws -> Response {
        let message: String
        do {
            message = "o:" + (try await change())
        } catch let error as TaskQueueError where APIError.from(error).status.code < 500 {
            message = "e:" + error.message
        } catch let error as APIError where error.status.code < 500 {
            message = "e:" + error.message
        }
        var response = Response.redirect(to: path, type: .found)
        response.setCookie(
            Cookie(name: Self.flashCookie, value: Self.encode(String(message.prefix(600))), maxAge: 60, path: "/dashboard", sameSite: .strict))
        return response
    }

    func loginPage(_ request: Request, failed: Bool) -> Response {
        let next = request.uri.queryParameters["next"].map(String.init) ?? "/dashboard"
        return renderer.page(
            "login", ["next": Self.safeNext(next), "failed": failed, "open": !sessions.requiresLogin],
            status: failed ? .unauthorized : .ok)
    }

    func login(_ request: Request) async throws -> Response {
        let form = try await Self.form(request, maxBytes: maxFormBytes)
        guard sessions.requiresLogin else { return Response.redirect(to: "/dashboard", type: .found) }
        guard let token = form["token"], sessions.acceptsToken(token) else {
            var failed = renderer.page("login", ["next": Self.safeNext(form["next"] ?? "/dashboard"), "failed": true], status: .unauthorized)
            failed.headers[.cacheControl] = "no-store"
            return failed
        }
        let (_, cookie) = sessions.start()
        var response = Response.redirect(to: Self.safeNext(form["next"] ?? "/dashboard"), type: .found)
        response.setCookie(cookie)
        return response
    }

    func logout() -> Response {
        var response = Response.redirect(to: sessions.requiresLogin ? "/dashboard/login" : "/dashboard", type: .found)
        response.setCookie(sessions.endCookie)
        return response
    }

    /// Only a path inside the dashboard (no other site, no scheme-relative URL).
    static func safeNext(_ next: String) -> String {
        guard next.hasPrefix("/dashboard"), !next.hasPrefix("//"), !next.contains("\\"), !next.contains("\r"), !next.contains("\n") else {
            return "/dashboard"
        }
        return next
    }

    func asset(_ context: BasicRequestContext) throws -> Response {
        let name = try context.parameters.require("file")
        guard let asset = renderer.assets[name] else { throw APIError(.notFound, "not_found", "no such file") }
        return Response(
            status: .ok, headers: [.contentType: asset.type, .cacheControl: "public, max-age=300", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: asset.body))
    }

    // MARK: Live overview

    /// Server-sent events: an `overview` event with the figures every two seconds, read once for
    /// every open dashboard together.
    func live(_ request: Request) async throws -> Response {
        guard sessions.session(of: request) != nil || !sessions.requiresLogin else {
            throw APIError(.unauthorized, "session_required", "the live overview needs a dashboard session")
        }
        guard (request.headers[.accept] ?? "").lowercased().contains("text/event-stream") else {
            throw APIError(.notAcceptable, "not_acceptable", "the live overview is a stream of server-sent events; ask for it with Accept: text/event-stream")
        }
        let feed = self.feed
        let (id, updates) = await feed.watch()
        let body = ResponseBody { writer in
            do {
                // A stream never ends by itself: on SIGTERM it is ended here, so the API's graceful
                // shutdown does not wait on open dashboards (their browsers reconnect elsewhere).
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                    for await update in updates {
                        try await writer.write(ByteBuffer(string: "event: overview\ndata: \(update)\n\n"))
                    }
                } onGracefulShutdown: {
                    Task { await feed.unwatch(id) }
                }
            } catch {
                await feed.unwatch(id)
                throw error
            }
            await feed.unwatch(id)
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-store", .xContentTypeOptions: "nosniff",
                // A proxy that buffers responses would hold the updates back.
                .accelBuffering: "no",
            ], body: body)
    }

    // MARK: Pages

    func overview(_ session: DashboardSessions.Session) async throws -> DashboardPage {
        let overview = try await Overview.read(queue, renderer: renderer)
        return DashboardPage(
            "overview",
            [
                "title": "Overview", "values": overview.values, "fragments": overview.fragments,
                "none_online": overview.workersOnline == 0,
                "priorities": TaskPriority.allCases.map { priority in
                    let name = priority.rawValue
                    return [
                        "name": name, "count_key": "priority_\(name)", "count": overview.values["priority_\(name)"] ?? "",
                        "backlog_key": "backlog_\(name)", "backlog": overview.values["backlog_\(name)"] ?? "",
                        "paused_key": "paused_\(name)", "paused": overview.values["paused_\(name)"] ?? "",
                    ]
                },
                "statuses": TaskStatus.allCases.map {
                    ["name": $0.rawValue, "key": "status_\($0.rawValue)", "value": overview.values["status_\($0.rawValue)"] ?? ""]
                },
            ]
        )
    }

    func tasks(_ request: Request, _ session: DashboardSessions.Session) async throws -> DashboardPage {
        let parameters = request.uri.queryParameters
        func value(_ name: Substring) -> String? {
            guard let raw = parameters[name] else { return nil }
            let text = String(raw).trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        var query = TaskQuery(limit: 50)
        var problems: [String] = []
        var filters: [String: Any] = [:]
        if let status = value("status") {
            if let parsed = TaskStatus(rawValue: status) { query.status = parsed } else { problems.append("status \(status) is not a task state") }
        }
        if let priority = value("priority") {
            if let parsed = TaskPriority(rawValue: priority) { query.priority = parsed } else { problems.append("priority must be high, normal or low") }
        }
        if let type = value("type") {
            if NewTask.isValidType(type) { query.type = type } else { problems.append("a task type is 1-128 letters, digits, '.', '_', ':' or '-'") }
            filters["type"] = type
        }
        for field in ["created_after", "created_before"] {
            guard let text = value(Substring(field)) else { continue }
            filters[field] = text
            guard let date = DashboardFormat.parseTime(text) else {
                problems.append("\(field.replacingOccurrences(of: "_", with: " ")) must be a date and time such as 2030-01-01T12:00")
                continue
            }
            if field == "created_after" { query.createdAfter = date } else { query.createdBefore = date }
        }
        if let cursor = value("cursor") { query.cursor = cursor }
        var found: [TaskRecord] = []
        var next: String?
        if let search = value("q") {
            filters["q"] = search
            if let id = UUID(uuidString: search) {
                if let task = try await queue.task(id) { found = [task] } else { problems.append("no task has the id \(search)") }
            } else {
                problems.append("search by a task's full id (a UUID)")
            }
        } else if problems.isEmpty {
            do {
                let page = try await queue.tasks(query)
                found = page.tasks
                next = page.nextCursor
            } catch let error as TaskQueueError where error.code == .invalidArgument {
                problems.append("that page's cursor is not one this dashboard made")
            }
        }
        let counts = try await queue.counts()
        var nextLink: String?
        if let next {
            var items = parameters.filter { $0.key != "cursor" }.map { "\(Self.encode(String($0.key)))=\(Self.encode(String($0.value)))" }
            items.append("cursor=\(Self.encode(next))")
            nextLink = "/dashboard/tasks?" + items.joined(separator: "&")
        }
        return DashboardPage(
            "tasks",
            [
                "title": "Tasks", "tasks": found.map(DashboardViews.task), "empty": found.isEmpty && problems.isEmpty,
                "problems": problems.map { ["text": $0] }, "next": nextLink as Any, "filters": filters,
                "statuses": TaskStatus.allCases.map { status in
                    [
                        "name": status.rawValue, "count": DashboardFormat.count(counts.byStatus[status] ?? 0),
                        "selected": query.status == status,
                    ] as [String: Any]
                },
                "priorities": TaskPriority.allCases.map { ["name": $0.rawValue, "selected": query.priority == $0] as [String: Any] },
            ], status: problems.isEmpty ? .ok : .badRequest
        )
    }

    func task(_ id: UUID, _ session: DashboardSessions.Session) async throws -> DashboardPage {
        guard let task = try await queue.task(id) else {
            return DashboardPage("missing", ["title": "No such task", "id": id.lowercasedText], status: .notFound)
        }
        let executions = try await queue.executions(of: id)
        var context = DashboardViews.task(task)
        context["title"] = "Task \(task.id.lowercasedText)"
        context["payload"] = DashboardFormat.prettyJSON(task.payload)
        context["timeline"] = DashboardViews.timeline(executions)
        context["no_attempts"] = executions.isEmpty
        context["can_cancel"] = !task.status.isTerminal && task.cancelRequestedAt == nil
        context["can_retry"] = task.status == .failed
        context["cancel_reason"] =
            task.status.isTerminal ? "a \(task.status.rawValue) task cannot be cancelled" : task.cancelRequestedAt != nil ? "cancel already requested" : ""
        context["retry_reason"] = task.status == .failed ? "" : "only failed tasks can be retried; this one is \(task.status.rawValue)"
        return DashboardPage("task", context)
    }

    func failed(_ session: DashboardSessions.Session) async throws -> DashboardPage {
        let (groups, sampled) = try await queue.failureGroups(sample: 10_000, limit: 50)
        let deadLetters = queue.natsConnected ? (try? await queue.deadLetters(limit: 10)) ?? [] : []
        let counts = try await queue.counts()
        return DashboardPage(
            "failed",
            [
                "title": "Failed", "failed_total": DashboardFormat.count(counts.byStatus[.failed] ?? 0),
                "sampled": DashboardFormat.count(sampled), "sample_full": sampled >= 10_000, "none": groups.isEmpty,
                "groups": groups.map { group in
                    [
                        "type": group.type, "error": group.error ?? "", "has_error": group.error != nil,
                        "count": DashboardFormat.count(group.count), "latest": DashboardFormat.time(group.latest),
                    ] as [String: Any]
                },
                "dead_letters": deadLetters.map { letter in
                    [
                        "id": letter.taskID.lowercasedText, "type": letter.type, "attempts": letter.attempts,
                        "error": letter.lastError ?? "", "at": DashboardFormat.time(letter.failedAt),
                    ] as [String: Any]
                },
                "priorities": TaskPriority.allCases.map { ["name": $0.rawValue] },
            ]
        )
    }

    func queues(_ session: DashboardSessions.Session) async throws -> DashboardPage {
        async let pausesRead = queue.pauses()
        async let limitsRead = queue.allLimits()
        async let workersRead = queue.workers()
        async let countsRead = queue.counts()
        let (pauses, limits, workers, counts) = try await (pausesRead, limitsRead, workersRead, countsRead)
        let stream = queue.natsConnected ? try? await queue.streamState() : nil
        var typeNames = Set(pauses.types).union(limits.map(\.type))
        for worker in workers where worker.isOnline { typeNames.formUnion(worker.types) }
        let limitsByType = Dictionary(limits.map { ($0.type, $0) }, uniquingKeysWith: { first, _ in first })
        return DashboardPage(
            "queues",
            [
                "title": "Queues and types",
                "priorities": TaskPriority.allCases.map { priority in
                    let consumer = stream.flatMap { Overview.consumer(of: priority, in: $0.consumers) }
                    return [
                        "name": priority.rawValue, "paused": pauses.priorities.contains(priority),
                        "waiting": consumer.map { DashboardFormat.count(Int($0.pending)) } ?? "–",
                        "in_flight": consumer.map { DashboardFormat.count($0.ackPending) } ?? "–",
                        "running": DashboardFormat.count(counts.byStatusAndPriority[.running]?[priority] ?? 0),
                    ] as [String: Any]
                },
                "types": typeNames.sorted().map { type in
                    var row = DashboardViews.limits(limitsByType[type])
                    row["name"] = type
                    row["paused"] = pauses.types.contains(type)
                    row["handled"] = workers.contains { $0.isOnline && $0.types.contains(type) }
                    return row
                },
                "no_types": typeNames.isEmpty,
                "held": DashboardFormat.count(try await queue.heldTaskCount()),
            ]
        )
    }

    func schedules(_ session: DashboardSessions.Session) async throws -> DashboardPage {
        let records = try await queue.schedules()
        return DashboardPage("schedules", ["title": "Schedules", "schedules": records.map(DashboardViews.schedule), "none": records.isEmpty])
    }

    // MARK: Actions

    func typeAction(_ verb: String, _ form: [String: String]) async throws -> String {
        guard let type = form["type"]?.trimmingCharacters(in: .whitespaces), NewTask.isValidType(type) else {
            throw APIError.invalid("type", "invalid_type", "a task type is 1-128 letters, digits, '.', '_', ':' or '-'")
        }
        switch verb {
        case "pause":
            _ = try await queue.pause(type: type)
            return "Type \(type) paused: its waiting tasks are held until it is resumed."
        case "resume":
            let released = try await queue.resume(type: type)
            return "Type \(type) resumed; \(released) held tasks released."
        case "limits":
            if form["remove"] != nil {
                guard try await queue.removeLimits(for: type) else { return "Type \(type) has no limits." }
                return "Limits of \(type) lifted."
            }
            var limits = TaskTypeLimits()
            func number(_ field: String, _ label: String) throws -> Int? {
                guard let text = form[field]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
                guard let value = Int(text), value > 0 else { throw APIError.invalid(field, "invalid_\(field)", "\(label) must be a whole number above 0") }
                return value
            }
            limits.concurrency = try number("concurrency", "concurrency")
            let count = try number("rate_count", "the rate's count")
            let seconds = try number("rate_seconds", "the rate's seconds")
            switch (count, seconds) {
            case (let count?, let seconds?): limits.rate = TaskTypeLimits.Rate(count: count, per: .seconds(seconds))
            case (nil, nil): break
            default: throw APIError.invalid("rate_count", "invalid_rate", "a rate needs both a count and its seconds")
            }
            guard limits.concurrency != nil || limits.rate != nil else {
                throw APIError.invalid("concurrency", "invalid_limits", "give a concurrency, a rate, or both (or remove the limits)")
            }
            _ = try await queue.setLimits(limits, for: type)
            return "Limits of \(type) saved."
        default:
            throw APIError(.notFound, "not_found", "no such action")
        }
    }

    func scheduleAction(_ verb: String, _ form: [String: String]) async throws -> String {
        guard let name = form["name"], Schedule.isValidName(name) else {
            throw APIError.invalid("name", "invalid_name", "a schedule name is 1-\(Schedule.maxNameLength) characters, without '/' or control characters")
        }
        switch verb {
        case "pause":
            _ = try await queue.pauseSchedule(named: name)
            return "Schedule \(name) paused."
        case "resume":
            _ = try await queue.resumeSchedule(named: name)
            return "Schedule \(name) resumed."
        case "trigger":
            let task = try await queue.triggerSchedule(named: name)
            return "Schedule \(name) triggered: task \(task.id.lowercasedText)."
        default:
            throw APIError(.notFound, "not_found", "no such action")
        }
    }

    /// A bulk retry or cancel: first a confirmation naming how many tasks it touches, then, with
    /// `confirm`, the action itself.
    func bulk(_ form: [String: String], _ session: DashboardSessions.Session, _ request: Request) async throws -> Response {
        let verb = form["action"] ?? ""
        guard verb == "retry" || verb == "cancel" else {
            throw APIError.invalid("action", "invalid_action", "action must be retry or cancel")
        }
        var fields: [String: Any] = [:]
        for name in SelectionRequest.fields {
            if let value = form[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty {
                fields[name] = name.hasPrefix("created_") ? (DashboardFormat.parseTime(value).map { $0.formatted(.iso8601) } ?? value) : value
            }
        }
        if let error = form["error"], !error.isEmpty { fields["error"] = error }
        let statuses = verb == "retry" ? SelectionRequest.retryable : SelectionRequest.cancellable
        let parsed: SelectionRequest
        do {
            parsed = try SelectionRequest(fields: fields, statuses: statuses)
        } catch let error as APIError {
            return try await flashing(to: "/dashboard/failed") { throw error }
        }
        if form["confirm"] == "yes" {
            return try await flashing(to: verb == "retry" ? "/dashboard/failed" : "/dashboard/tasks") {
                if verb == "retry" {
                    return "Retried \(DashboardFormat.count(try await queue.retry(matching: parsed.selection))) failed tasks."
                }
                let summary = try await queue.cancel(matching: parsed.selection)
                return
                    "Cancelled \(DashboardFormat.count(summary.cancelled)) tasks; asked the workers to stop \(DashboardFormat.count(summary.cancelRequested)) running ones."
            }
        }
        let count = try await queue.count(matching: parsed.selection, states: statuses, cap: 100_000)
        let described = fields.keys.sorted().map { ["name": $0.replacingOccurrences(of: "_", with: " "), "field": $0, "value": "\(fields[$0]!)"] }
        return render(
            "confirm",
            [
                "title": "Confirm", "verb": verb, "retry": verb == "retry", "count": DashboardFormat.count(count),
                "capped": count >= 100_000, "nothing": count == 0, "filters": described,
            ], session: session, request: request)
    }

    // MARK: Helpers

    func taskID(_ context: BasicRequestContext) throws -> UUID { try Routes.taskID(context) }

    /// An `application/x-www-form-urlencoded` body as its fields (the last value of a repeated one).
    static func form(_ request: Request, maxBytes: Int) async throws -> [String: String] {
        let type = (request.headers[.contentType] ?? "").lowercased()
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the form as application/x-www-form-urlencoded")
        }
        let buffer = try await request.body.collect(upTo: maxBytes)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String? { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = parts.first.flatMap(decode), !name.isEmpty else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}

/// A page to render: its template, the template's context and the response's status.
struct DashboardPage {
    var template: String
    var context: [String: Any]
    var status: HTTPResponse.Status

    init(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) {
        self.template = template
        self.context = context
        self.status = status
    }
}
