import DemoForgeCore
import DemoForgeStore
import Foundation

extension APIServices {
    /// Every route of DESIGN.md's HTTP API, plus the dashboard.
    public func router() -> Router {
        var router = Router()
        router.addDashboard()
        addHealth(to: &router)
        addClients(to: &router)
        addTasks(to: &router)
        addStreams(to: &router)
        addPreviews(to: &router)
        router.fallback = { request in
            // A GET that matches no route because of a `.`/`..` segment (or an encoded `/` inside one) is a
            // traversal attempt on an identifier: 400, like an invalid identifier in a matched route.
            if let bad = request.segments.first(where: { $0 == "." || $0 == ".." || $0.contains("/") }) {
                throw HTTPError.badRequest(
                    "path \(request.path) has the segment '\(bad)'; identifiers never contain '/' or are '.' or '..'",
                    code: .invalidIdentifier)
            }
            throw HTTPError.notFound("no route for \(request.method.rawValue) \(request.path)")
        }
        return router
    }

    func addHealth(to router: inout Router) {
        let services = self
        router.get("/api/health") { _ in
            let leased = services.previews.leasedPorts()
            return API.json([
                "status": "ok",
                "activeStreams": .int(Int64(services.metrics.activeStreams)),
                "activePreviews": .int(Int64(await services.previews.list().count)),
                "leasedPorts": .int(Int64(leased)),
                "runningProcesses": .int(Int64(services.supervisor.runningCount)),
                "subscriptions": .int(Int64(services.hub.subscriberCount)),
                "liveTimers": .int(Int64(services.metrics.liveTimers)),
            ])
        }
        router.get("/metrics") { _ in
            var text = PrometheusText()
            services.metrics.render(into: &text)
            let tasks = services.tasks.list()
            text.family(
                "demoforge_tasks", help: "Tasks by state.", type: .gauge,
                samples: TaskState.allCases.map { state in
                    (labels: ["state": state.rawValue], value: Double(tasks.filter { $0.state == state }.count))
                })
            text.gauge("demoforge_running_processes", help: "Supervised process groups alive.", value: Double(services.supervisor.runningCount))
            text.gauge("demoforge_task_subscriptions", help: "Open task-change subscriptions.", value: Double(services.hub.subscriberCount))
            text.gauge("demoforge_active_previews", help: "Preview servers running.", value: Double(await services.previews.list().count))
            return HTTPResponse.text(text.text, contentType: PrometheusText.contentType)
        }
    }

    func addClients(to router: inout Router) {
        let services = self
        router.get("/api/clients") { _ in
            try await API.handle {
                var rows: [JSONValue] = []
                let tasks = services.tasks.list()
                for slug in services.contexts.list() {
                    let context = try await services.contexts.read(slug)
                    rows.append([
                        "slug": .string(slug), "name": context[path: "client.name"] ?? .null,
                        "version": context[path: "version"] ?? .null,
                        "latestTask": tasks.first { $0.client == slug }?.toJSON() ?? .null,
                    ])
                }
                return API.json(["clients": .array(rows)])
            }
        }
        router.post("/api/clients") { request in
            let body: JSONValue
            do {
                body = try JSONValue.parse(Data(request.body))
            } catch {
                return API.fieldError("body", "The request body is not valid JSON: \(error)")
            }
            guard let slug = body[path: "slug"]?.stringValue, Identifier.isValidSlug(slug) else {
                return API.fieldError("slug", Identifier.slugProblem(body[path: "slug"]?.stringValue ?? ""))
            }
            let brief = body[path: "brief"] ?? .null
            do {
                try ContextStore.validateBrief(brief, source: "brief")
            } catch let error as StoreError {
                return API.fieldError(brief.objectValue == nil ? "brief" : "name", error.message)
            }
            do {
                let context = try await services.contexts.create(slug: slug, brief: brief)
                return API.json(["client": ["slug": .string(slug), "context": context]], status: 201)
            } catch let error as StoreError where error.code == .exists {
                return API.fieldError("slug", "A client with slug \"\(slug)\" already exists", status: 409, code: "conflict")
            } catch {
                throw API.map(error)
            }
        }
        router.get("/api/clients/{slug}") { request in
            try await API.handle {
                let slug = try API.slug(request)
                let context = try await services.contexts.read(slug)
                let latest = services.tasks.list(client: slug).first
                return API.json(["slug": .string(slug), "context": context, "latestTask": latest?.toJSON() ?? .null])
            }
        }
        router.post("/api/clients/{slug}/runs") { request in
            try await API.handle {
                let slug = try API.slug(request)
                let restart = request.queryValue("restart") == "1" || request.queryValue("restart") == "true"
                let taskId = try await services.runs.start(slug: slug, restart: restart)
                return API.json(["taskId": .string(taskId)], status: 202)
            }
        }
    }

    func addTasks(to router: inout Router) {
        let services = self
        router.get("/api/tasks") { request in
            try await API.handle {
                let client = try request.queryParameter("client", matching: .slug)
                return API.json(["tasks": .array(services.tasks.list(client: client).map { $0.toJSON() })])
            }
        }
        router.get("/api/tasks/{id}") { request in
            try await API.handle { API.json(try services.tasks.status(try API.taskId(request)).toJSON()) }
        }
        router.post("/api/tasks/{id}/cancel") { request in
            try await API.handle { API.json(try await services.tasks.cancel(try API.taskId(request)).toJSON()) }
        }
        router.get("/api/tasks/{id}/events") { request in
            try await API.handle {
                let id = try API.taskId(request)
                let from = try request.queryInt("from", range: 1...Int.max) ?? 1
                let limit = try request.queryInt("limit", range: 1...10_000) ?? 1000
                let events = try services.tasks.events(id, from: from, limit: limit)
                return API.json(["events": .array(events.map { $0.toJSON() }), "next": .int(Int64((events.last?.seq ?? from - 1) + 1))])
            }
        }
        router.get("/api/tasks/{id}/artifacts/{name}") { request in
            try await API.handle {
                let id = try API.taskId(request)
                let name = try request.parameter("name", matching: .fileName)
                _ = try services.tasks.checkedId(id)
                let file = services.workspace.artifactFolder(id).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    throw HTTPError.notFound("Task \(id) has no artifact \(name)")
                }
                var headers: HTTPHeaders = ["Content-Type": DashboardAssets.contentType(for: name)]
                headers.add("Cache-Control", "no-cache")
                return HTTPResponse(status: 200, headers: headers, body: .bytes(Array(data)))
            }
        }
    }

    func addPreviews(to router: inout Router) {
        let services = self
        router.get("/api/previews") { _ in
            let local = await services.previews.list().map { $0.toJSON() }
            return API.json(["previews": .array(local)])
        }
        router.post("/api/clients/{slug}/preview") { request in
            try await API.handle {
                let slug = try API.slug(request)
                guard services.contexts.exists(slug) else { throw HTTPError.notFound("No client \"\(slug)\"") }
                return API.json(try await services.previews.start(slug).toJSON())
            }
        }
        router.delete("/api/clients/{slug}/preview") { request in
            try await API.handle {
                let slug = try API.slug(request)
                await services.previews.stop(slug)
                return API.json(["slug": .string(slug), "state": "stopped"])
            }
        }
    }
}
