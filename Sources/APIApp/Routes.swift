import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import TaskFlowService
import TaskQueue

/// The REST API's routes, over one TaskQueue.
public enum Routes {
    /// Path patterns and the methods each allows (for 405 answers); `*` is one path segment.
    static let table: [(pattern: [String], methods: [String])] = [
        (["api", "v1", "health"], ["GET"]),
        (["api", "v1", "ready"], ["GET"]),
        (["api", "v1", "openapi.yaml"], ["GET"]),
        (["api", "v1", "stats"], ["GET"]),
        (["metrics"], ["GET"]),
        (["api", "v1", "tasks"], ["GET", "POST"]),
        // A fixed segment before the pattern it would otherwise match as a task id.
        (["api", "v1", "tasks", "cancel"], ["POST"]),
        (["api", "v1", "tasks", "retry"], ["POST"]),
        (["api", "v1", "tasks", "*"], ["GET"]),
        (["api", "v1", "tasks", "*", "executions"], ["GET"]),
        (["api", "v1", "tasks", "*", "cancel"], ["POST"]),
        (["api", "v1", "tasks", "*", "retry"], ["POST"]),
        (["api", "v1", "schedules"], ["GET", "POST"]),
        (["api", "v1", "schedules", "*"], ["GET", "PATCH", "DELETE"]),
        (["api", "v1", "schedules", "*", "pause"], ["POST"]),
        (["api", "v1", "schedules", "*", "resume"], ["POST"]),
        (["api", "v1", "schedules", "*", "trigger"], ["POST"]),
        (["api", "v1", "queues", "*", "pause"], ["POST"]),
        (["api", "v1", "queues", "*", "resume"], ["POST"]),
        (["api", "v1", "types", "*", "pause"], ["POST"]),
        (["api", "v1", "types", "*", "resume"], ["POST"]),
        (["api", "v1", "types", "*", "limits"], ["GET", "PUT", "DELETE"]),
        (["api", "v1", "limits"], ["GET"]),
        (["api", "v1", "workers"], ["GET"]),
        ([], ["GET"]),
        (["dashboard"], ["GET"]),
        (["dashboard", "live"], ["GET"]),
        (["dashboard", "login"], ["GET", "POST"]),
        (["dashboard", "logout"], ["POST"]),
        (["dashboard", "static", "*"], ["GET"]),
        (["dashboard", "tasks"], ["GET"]),
        (["dashboard", "tasks", "*"], ["GET"]),
        (["dashboard", "tasks", "*", "cancel"], ["POST"]),
        (["dashboard", "tasks", "*", "retry"], ["POST"]),
        (["dashboard", "failed"], ["GET"]),
        (["dashboard", "bulk"], ["POST"]),
        (["dashboard", "queues"], ["GET"]),
        (["dashboard", "queues", "*", "*"], ["POST"]),
        (["dashboard", "types", "*"], ["POST"]),
        (["dashboard", "schedules"], ["GET"]),
        (["dashboard", "schedules", "*"], ["POST"]),
    ]

    struct CreatedKey: Hashable, Sendable {
        var type: String
        var priority: TaskPriority
    }

    /// Task types come from clients: past the cache's limit, new ones count under one label.
    static let createdCounters = MetricHandleCache<CreatedKey, CoreMetrics.Counter>(
        overflow: { CreatedKey(type: MetricHandleCache<CreatedKey, CoreMetrics.Counter>.overflowLabel, priority: $0.priority) },
        make: { CoreMetrics.Counter(label: "taskflow_tasks_created_total", dimensions: [("type", $0.type), ("priority", $0.priority.rawValue)]) }
    )

    /// The methods a known path allows, or nil for an unknown path.
    static func allowedMethods(for path: String) -> [String]? {
        let parts = path.split(separator: "/").map(String.init)
        return table.first { entry in
            entry.pattern.count == parts.count && zip(entry.pattern, parts).allSatisfy { $0 == "*" || $0 == $1 }
        }?.methods
    }

    public static func build(queue: TaskQueue, settings: APISettings, metrics: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        // Outermost first: the request's span covers everything below, and the metrics see the
        // response AccessMiddleware makes of an error.
        if settings.tracing { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: AccessMiddleware())

        router.get("/api/v1/health") { _, _ in JSON.response(.object(["status": "ok"])) }
        router.get("/api/v1/ready") { _, _ in await Readiness.check(queue).response }
        router.get("/api/v1/openapi.yaml") { _, _ in try openAPIDocument() }
        router.get("/api/v1/stats") { _, _ in try await stats(queue) }
        router.get("/metrics") { _, _ in metrics.response() }
        do {
            try DashboardRoutes(queue: queue, tokens: settings.tokens).add(to: router)
        } catch {
            Logger(label: "taskflow.api").error("the dashboard is not served", metadata: ["error": "\(error)"])
        }

        let tasks = router.group("/api/v1/tasks").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        tasks.post { request, context in try await create(request, context: context, queue: queue, maxBytes: settings.maxPayloadBytes) }
        tasks.get { request, _ in try await list(request, queue: queue) }
        tasks.get(":id") { _, context in
            let id = try taskID(context)
            guard let task = try await queue.task(id) else { throw notFound(id) }
            return JSON.response(TaskJSON.task(task))
        }
        tasks.get(":id/executions") { _, context in
            let id = try taskID(context)
            guard try await queue.task(id) != nil else { throw notFound(id) }
            let executions = try await queue.executions(of: id)
            return JSON.response(.object(["task_id": .string(id.lowercasedText), "executions": .array(executions.map(TaskJSON.execution))]))
        }
        tasks.post("cancel") { request, _ in
            let parsed = try SelectionRequest(
                body: try await jsonBody(request, maxBytes: settings.maxPayloadBytes), statuses: SelectionRequest.cancellable)
            let summary = try await queue.cancel(matching: parsed.selection)
            return JSON.response(.object(["cancelled": .int(summary.cancelled), "cancel_requested": .int(summary.cancelRequested)]))
        }
        tasks.post("retry") { request, _ in
            let parsed = try SelectionRequest(
                body: try await jsonBody(request, maxBytes: settings.maxPayloadBytes), statuses: SelectionRequest.retryable)
            return JSON.response(.object(["retried": .int(try await queue.retry(matching: parsed.selection))]))
        }
        tasks.post(":id/cancel") { _, context in
            let task = try await queue.cancel(try taskID(context))
            guard task.status == .running else { return JSON.response(TaskJSON.task(task)) }
            // Running: the worker is asked to stop it and acts within about a second.
            guard case .object(var body) = TaskJSON.task(task) else { return JSON.response(TaskJSON.task(task), status: .accepted) }
            body["state"] = "cancel requested"
            return JSON.response(.object(body), status: .accepted)
        }
        tasks.post(":id/retry") { _, context in
            JSON.response(TaskJSON.task(try await queue.retry(try taskID(context))))
        }

        let schedules = router.group("/api/v1/schedules").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        schedules.get { _, _ in
            JSON.response(.object(["schedules": .array(try await queue.schedules().map(ScheduleJSON.schedule))]))
        }
        schedules.post { request, _ in
            let parsed = try ScheduleRequest(creating: try await jsonBody(request, maxBytes: settings.maxPayloadBytes))
            let record = try await queue.createSchedule(parsed.schedule)
            var response = JSON.response(ScheduleJSON.schedule(record), status: .created)
            var segment = CharacterSet.urlPathAllowed
            segment.remove("/")
            let escaped = record.schedule.name.addingPercentEncoding(withAllowedCharacters: segment) ?? record.schedule.name
            response.headers[.location] = "/api/v1/schedules/\(escaped)"
            return response
        }
        schedules.get(":name") { _, context in
            let name = try scheduleName(context)
            guard let record = try await queue.schedule(named: name) else { throw TaskQueueError(.scheduleNotFound, "no schedule is named \(name)") }
            return JSON.response(ScheduleJSON.schedule(record))
        }
        schedules.patch(":name") { request, context in
            let name = try scheduleName(context)
            let body = try await jsonBody(request, maxBytes: settings.maxPayloadBytes)
            guard let existing = try await queue.schedule(named: name) else { throw TaskQueueError(.scheduleNotFound, "no schedule is named \(name)") }
            let parsed = try ScheduleRequest(patching: existing.schedule, body: body)
            return JSON.response(ScheduleJSON.schedule(try await queue.updateSchedule(parsed.schedule)))
        }
        schedules.delete(":name") { _, context in
            try await queue.deleteSchedule(named: try scheduleName(context))
            return Response(status: .noContent)
        }
        schedules.post(":name/pause") { _, context in
            JSON.response(ScheduleJSON.schedule(try await queue.pauseSchedule(named: try scheduleName(context))))
        }
        schedules.post(":name/resume") { _, context in
            JSON.response(ScheduleJSON.schedule(try await queue.resumeSchedule(named: try scheduleName(context))))
        }
        schedules.post(":name/trigger") { _, context in
            let task = try await queue.triggerSchedule(named: try scheduleName(context))
            var response = JSON.response(TaskJSON.task(task), status: .created)
            response.headers[.location] = "/api/v1/tasks/\(task.id.lowercasedText)"
            return response
        }

        let queues = router.group("/api/v1/queues").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        queues.post(":priority/pause") { _, context in
            let priority = try priorityParameter(context)
            try await queue.pause(priority)
            return JSON.response(.object(["priority": .string(priority.rawValue), "paused": true]))
        }
        queues.post(":priority/resume") { _, context in
            let priority = try priorityParameter(context)
            try await queue.resume(priority)
            return JSON.response(.object(["priority": .string(priority.rawValue), "paused": false]))
        }
        let types = router.group("/api/v1/types").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        types.post(":type/pause") { _, context in
            let type = try typeParameter(context)
            try await queue.pause(type: type)
            return JSON.response(.object(["type": .string(type), "paused": true]))
        }
        types.post(":type/resume") { _, context in
            let type = try typeParameter(context)
            let released = try await queue.resume(type: type)
            return JSON.response(.object(["type": .string(type), "paused": false, "released": .int(released)]))
        }
        types.get(":type/limits") { _, context in
            let type = try typeParameter(context)
            guard let state = try await queue.limits(for: type) else {
                throw APIError(.notFound, "limits_not_found", "task type \(type) has no limits")
            }
            return JSON.response(LimitsJSON.state(state))
        }
        types.put(":type/limits") { request, context in
            let type = try typeParameter(context)
            let parsed = try LimitsRequest(body: try await jsonBody(request, maxBytes: settings.maxPayloadBytes))
            return JSON.response(LimitsJSON.state(try await queue.setLimits(parsed.limits, for: type)))
        }
        types.delete(":type/limits") { _, context in
            let type = try typeParameter(context)
            guard try await queue.removeLimits(for: type) else {
                throw APIError(.notFound, "limits_not_found", "task type \(type) has no limits")
            }
            return Response(status: .noContent)
        }
        let workers = router.group("/api/v1/workers").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        workers.get { _, _ in
            let fleet = try await queue.workers()
            return JSON.response(
                .object([
                    "workers": .array(fleet.map(WorkerJSON.worker)), "online": .int(fleet.filter(\.isOnline).count),
                    "heartbeat_seconds": .int(Int(TaskQueue.workerHeartbeatInterval.components.seconds)),
                ]))
        }
        let limits = router.group("/api/v1/limits").add(middleware: BearerAuthMiddleware(tokens: settings.tokens))
        limits.get { _, _ in
            JSON.response(.object(["limits": .array(try await queue.allLimits().map(LimitsJSON.state))]))
        }
        return router
    }

    // MARK: Handlers

    static func create(_ request: Request, context: BasicRequestContext, queue: TaskQueue, maxBytes: Int) async throws -> Response {
        let parsed = try CreateTaskRequest(body: try await jsonBody(request, maxBytes: maxBytes), idempotencyKey: request.headers[.idempotencyKey])
        let result = try await queue.enqueue(parsed.task)
        if result.created {
            createdCounters[CreatedKey(type: result.task.type, priority: result.task.priority)].increment()
        } else {
            context.logger.debug("idempotent repeat", metadata: ["task.id": "\(result.task.id)"])
        }
        var response = JSON.response(TaskJSON.task(result.task), status: result.created ? .created : .ok)
        response.headers[.location] = "/api/v1/tasks/\(result.task.id.lowercasedText)"
        return response
    }

    /// A request's JSON body, at most `maxBytes`: 415 for another media type, 413 when larger.
    static func jsonBody(_ request: Request, maxBytes: Int) async throws -> [UInt8] {
        let contentType = (request.headers[.contentType] ?? "").lowercased()
        // Trimmed by hand: Foundation's trimmingCharacters goes through NSString, and cost 2% of
        // the API's CPU per request.
        var mediaType = contentType.prefix { $0 != ";" }
        while mediaType.first?.isWhitespace == true { mediaType.removeFirst() }
        while mediaType.last?.isWhitespace == true { mediaType.removeLast() }
        guard mediaType == "application/json" || mediaType.hasSuffix("+json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the task as application/json")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than \(maxBytes) bytes")
        }
        return Array(try await request.body.collect(upTo: maxBytes).readableBytesView)
    }

    static func list(_ request: Request, queue: TaskQueue) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = TaskQuery()
        // A parameter that is present must be valid, even when empty ("?priority=" is not "any").
        if let status = parameters["status"].map(String.init) {
            guard let parsed = TaskStatus(rawValue: status) else {
                throw APIError.invalid("status", "invalid_status", "status must be one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.status = parsed
        }
        if let priority = parameters["priority"].map(String.init) {
            guard let parsed = TaskPriority(rawValue: priority) else {
                throw APIError.invalid("priority", "invalid_priority", "priority must be one of high, normal, low")
            }
            query.priority = parsed
        }
        if let type = parameters["type"].map(String.init), !type.isEmpty {
            guard type.count <= 128 else { throw APIError.invalid("type", "invalid_type", "type is at most 128 characters") }
            query.type = type
        }
        if let limitText = parameters["limit"].map(String.init) {
            guard let limit = Int(limitText), (1...200).contains(limit) else {
                throw APIError.invalid("limit", "invalid_limit", "limit must be a whole number from 1 to 200")
            }
            query.limit = limit
        }
        for field in ["created_after", "created_before"] {
            guard let text = parameters[Substring(field)].map(String.init) else { continue }
            guard let date = CreateTaskRequest.parseTimestamp(text) else {
                throw APIError.invalid(field, "invalid_\(field)", "\(field) must be an RFC 3339 timestamp such as 2030-01-01T12:00:00Z")
            }
            if field == "created_after" { query.createdAfter = date } else { query.createdBefore = date }
        }
        if let cursor = parameters["cursor"].map(String.init), !cursor.isEmpty {
            query.cursor = cursor
        }
        let page: TaskPage
        do {
            page = try await queue.tasks(query)
        } catch let error as TaskQueueError where error.code == .invalidArgument {
            throw APIError.invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
        }
        return JSON.response(.object(["tasks": .array(page.tasks.map(TaskJSON.task)), "next_cursor": .nullable(page.nextCursor)]))
    }

    static func stats(_ queue: TaskQueue) async throws -> Response {
        let counts = try await queue.counts()
        let recent = try await queue.finishedRecently()
        let pruned = try await queue.prunedCounts()
        let pauses = try await queue.pauses()
        let held = try await queue.heldTaskCount()
        let latency = try await queue.startLatency()
        func tally<Key: RawRepresentable<String>>(_ counts: [Key: Int]) -> JSONValue {
            .object(JSONObject(counts.map { ($0.key.rawValue, JSONValue.int($0.value)) }.sorted { $0.0 < $1.0 }))
        }
        var body: JSONObject = [
            "tasks": .object(["by_status": tally(counts.byStatus), "by_priority": tally(counts.byPriority)]),
            "last_minute": .object(["completed": .int(recent.completed), "failed": .int(recent.failed)]),
            // From due to start, over the online workers' last minute (bucketed: within about 12%).
            "start_latency": WorkerJSON.latency(latency),
            // Deleted by the workers' pruners after their retention period, fleet-wide, since the start.
            "pruned": .object(
                JSONObject([TaskStatus.cancelled, .completed, .failed].map { ($0.rawValue, JSONValue.int(pruned[$0] ?? 0)) })),
            // Paused across the fleet; held: tasks of paused types set aside until their type is resumed.
            "paused": .object([
                "priorities": .array(TaskPriority.allCases.filter { pauses.priorities.contains($0) }.map { .string($0.rawValue) }),
                "types": .array(pauses.types.sorted().map(JSONValue.string)),
                "held": .int(held),
            ]),
        ]
        if queue.natsConnected, let state = try? await queue.streamState() {
            body["stream"] =
                state.work.map {
                    .object(["name": .string($0.name), "messages": .int(Int($0.messages)), "bytes": .int(Int($0.bytes))])
                } ?? .null
            body["consumers"] = .array(
                state.consumers.map { consumer in
                    .object([
                        "name": .string(consumer.name), "filter_subject": .string(consumer.filterSubject),
                        "pending": .int(Int(consumer.pending)), "ack_pending": .int(consumer.ackPending),
                        "redelivered": .int(consumer.redelivered), "waiting": .int(consumer.waiting),
                    ])
                })
            body["dead_letters"] = .int(state.deadLetters.map { Int($0.messages) } ?? 0)
        } else {
            body["stream"] = .null
            body["consumers"] = .array([])
            body["dead_letters"] = .null
            body["nats"] = "unavailable"
        }
        return JSON.response(.object(body))
    }

    static func openAPIDocument() throws -> Response {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else {
            throw APIError(.internalServerError, "internal_error", "the OpenAPI document is missing from this build")
        }
        return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Helpers

    static func taskID(_ context: BasicRequestContext) throws -> UUID {
        let text = try context.parameters.require("id")
        guard let id = UUID(uuidString: text) else {
            throw APIError.invalid("id", "invalid_id", "task id must be a UUID")
        }
        return id
    }

    static func priorityParameter(_ context: BasicRequestContext) throws -> TaskPriority {
        guard let priority = TaskPriority(rawValue: try context.parameters.require("priority")) else {
            throw APIError.invalid("priority", "invalid_priority", "priority must be one of high, normal, low")
        }
        return priority
    }

    static func typeParameter(_ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require("type")
        guard let type = raw.removingPercentEncoding, NewTask.isValidType(type) else {
            throw APIError.invalid("type", "invalid_type", "a task type is 1-128 letters, digits, '.', '_', ':' or '-'")
        }
        return type
    }

    static func scheduleName(_ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require("name")
        guard let name = raw.removingPercentEncoding, Schedule.isValidName(name) else {
            throw APIError.invalid("name", "invalid_name", "a schedule name is 1-\(Schedule.maxNameLength) characters, without '/' or control characters")
        }
        return name
    }

    static func notFound(_ id: UUID) -> APIError {
        APIError(.notFound, "task_not_found", "no task with id \(id.lowercasedText)")
    }
}
