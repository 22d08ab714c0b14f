import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

extension ServeTests {
    /// With sse.maxStreamsPerTask 100, stream 101 on one task is a 503 JSON `too_many_streams`.
    @Test(.timeLimit(.minutes(1))) func stream101OnOneTaskIs503JSON() async throws {
        try await withServe("cap", settings: ["sse.maxStreamsPerTask": 100]) { ws, server in
            let id = try await offPool { try ws.createTask() }
            let port = server.port
            let path = "/api/tasks/\(id)/events/stream"
            let open = try await offPool { try (0..<100).map { _ in try SSEClient(port: port, path) } }
            defer { for client in open { client.close() } }
            #expect(open.allSatisfy { $0.head.status == 200 })
            let refused = try await offPool { try server.request("GET", path) }
            #expect(refused.status == 503)
            #expect(refused.head["Content-Type"]?.hasPrefix("application/json") == true)
            let body = try JSONValue.parse(refused.text)
            #expect(body[path: "error.code"]?.stringValue == "too_many_streams")
            #expect(body[path: "error.message"]?.stringValue?.contains("100") == true)
            // The status stream of the same task counts against the same cap.
            let status = try await offPool { try server.request("GET", "/api/tasks/\(id)/status/stream") }
            #expect(status.status == 503)
            // Another task is not affected.
            let other = try await offPool { try ws.createTask() }
            let otherStream = try await offPool { try SSEClient(port: port, "/api/tasks/\(other)/events/stream") }
            #expect(otherStream.head.status == 200)
            otherStream.close()
        }
    }

    /// Traversal attempts in identifiers are 400 JSON, never a file read.
    @Test(.timeLimit(.minutes(1)), arguments: [
        "/api/clients/../etc",
        "/api/clients/..%2Fetc",
        "/api/tasks/..%2F..%2Fx",
        "/api/tasks/..%2F..%2Fx/events",
        "/api/tasks/..%2F..%2Fx/events/stream",
        "/api/tasks/..%2F..%2Fx/status/stream",
        "/api/tasks?client=../x",
    ])
    func traversalIdentifiersAre400JSON(target: String) async throws {
        try await withServe("traversal") { _, server in
            let response = try await offPool { try server.request("GET", target) }
            #expect(response.status == 400, "\(target) answered \(response.status): \(response.text)")
            #expect(response.head["Content-Type"]?.hasPrefix("application/json") == true)
            let body = try JSONValue.parse(response.text)
            #expect(body[path: "error.code"]?.stringValue != nil)
            #expect(body[path: "error.message"]?.stringValue != nil)
        }
    }

    /// `serve --host 0.0.0.0` without server.token exits 2 at once, naming server.token; nothing is bound.
    @Test(.timeLimit(.minutes(1))) func nonLoopbackHostWithoutTokenExitsTwoAtOnce() async throws {
        let ws = try ServeWorkspace("notoken")
        defer { ws.remove() }
        let start = monotonicSeconds()
        let child = try CommandRunner.start(
            CommandRunner.demoforgeBinary, ["--workspace", ws.root.path, "serve", "--host", "0.0.0.0", "--port", "0"])
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
        let stdout = LineSource(child.standardOutput as! Pipe)
        let stderr = LineSource(child.standardError as! Pipe)
        let (out, err) = try await offPool { () -> (String, String) in
            var out: [String] = []
            while let line = stdout.next() { out.append(line) }
            var err: [String] = []
            while let line = stderr.next() { err.append(line) }
            return (out.joined(separator: "\n"), err.joined(separator: "\n"))
        }
        try await offPool { child.waitUntilExit() }
        let elapsed = monotonicSeconds() - start
        #expect(child.terminationStatus == 2)
        #expect(err.contains("server.token"), "stderr: \(err)")
        #expect(!out.contains("DemoForge serving"))
        #expect(elapsed < 5)
    }

    /// With server.token set, requests without `Authorization: Bearer TOKEN` get 401 JSON.
    @Test(.timeLimit(.minutes(1))) func tokenIsRequiredOnEveryRequestWhenSet() async throws {
        try await withServe("token", settings: ["server.token": "s3cret-token"]) { ws, server in
            let id = try await offPool { try ws.createTask() }
            for target in ["/api/health", "/api/tasks", "/api/tasks/\(id)/events/stream", "/api/stream"] {
                let bare = try await offPool { try server.request("GET", target) }
                #expect(bare.status == 401, "\(target) without token: \(bare.status)")
                #expect(try JSONValue.parse(bare.text)[path: "error.code"]?.stringValue != nil)
                let wrong = try await offPool {
                    try server.request("GET", target, headers: [("Authorization", "Bearer s3cret-tokeX")])
                }
                #expect(wrong.status == 401, "\(target) with a wrong token: \(wrong.status)")
            }
            let ok = try await offPool {
                try server.request("GET", "/api/health", headers: [("Authorization", "Bearer s3cret-token")])
            }
            #expect(ok.status == 200)
        }
    }

    /// POST /api/clients validation, duplicates, the tasks filter and the events page.
    @Test(.timeLimit(.minutes(1))) func clientsValidationAndEventsPage() async throws {
        try await withServe("api") { ws, server in
            func post(_ body: String) async throws -> (Int, JSONValue) {
                let response = try await offPool { try server.request("POST", "/api/clients", body: body) }
                return (response.status, try JSONValue.parse(response.text))
            }
            let (badSlug, badSlugBody) = try await post(#"{"slug":"Bad Slug!","brief":{"name":"Acme"}}"#)
            #expect(badSlug == 400)
            #expect(badSlugBody[path: "error.field"]?.stringValue == "slug")
            let (noName, noNameBody) = try await post(#"{"slug":"acme","brief":{"industry":"plumbing"}}"#)
            #expect(noName == 400)
            #expect(noNameBody[path: "error.field"]?.stringValue == "name")
            let (created, createdBody) = try await post(#"{"slug":"acme","brief":{"name":"Acme Plumbing"}}"#)
            #expect(created == 201)
            #expect(createdBody[path: "client.slug"]?.stringValue == "acme")
            let (duplicate, duplicateBody) = try await post(#"{"slug":"acme","brief":{"name":"Acme Again"}}"#)
            #expect(duplicate == 409)
            #expect(duplicateBody[path: "error.code"]?.stringValue != nil)
            let listed = try await offPool { try server.request("GET", "/api/clients/acme") }
            #expect(listed.status == 200)
            #expect(try JSONValue.parse(listed.text)[path: "context.client.name"]?.stringValue == "Acme Plumbing")

            let badFilter = try await offPool { try server.request("GET", "/api/tasks?client=../x") }
            #expect(badFilter.status == 400)

            let id = try await offPool { () -> String in
                let id = try ws.createTask(client: "acme")
                try ws.append(id, type: "log", message: "line", count: 6)
                return id
            }
            let page = try await offPool { try server.request("GET", "/api/tasks/\(id)/events?from=3&limit=2") }
            #expect(page.status == 200)
            let pageBody = try JSONValue.parse(page.text)
            let seqs = (pageBody[path: "events"].flatMap { value -> [JSONValue]? in
                if case .array(let items) = value { return items }
                return nil
            } ?? []).map { $0.int("seq") }
            #expect(seqs == [3, 4])
            #expect(pageBody.int("next") == 5)
            #expect(pageBody[path: "events.0.message"]?.stringValue == "line 3")
            let filtered = try await offPool { try server.request("GET", "/api/tasks?client=acme") }
            #expect(filtered.status == 200)
            #expect(try JSONValue.parse(filtered.text)[path: "tasks.0.taskId"]?.stringValue == id)
        }
    }

    /// The status stream: the current status first, each change, then the end after DONE.
    @Test(.timeLimit(.minutes(1))) func statusStreamSendsCurrentThenChangesAndEndsAfterDone() async throws {
        try await withServe("status") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/status/stream") }
            defer { client.close() }
            #expect(client.head.status == 200)
            var states: [String] = []
            for next in ["RUNNING", "DONE", nil] {
                let frame = try await offPool { try client.next(timeout: 10) }
                #expect(frame?.event == "status")
                states.append(try JSONValue.parse(frame?.data ?? "")[path: "state"]?.stringValue ?? "?")
                if let next { try await offPool { try ws.setState(id, next) } }
            }
            #expect(states == ["QUEUED", "RUNNING", "DONE"])
            let end = try await offPool { try client.next(timeout: 5) }
            #expect(end == nil)
            #expect(client.endedCleanly)
        }
    }

    /// A status.json overwritten with garbage while its status stream is open: an `error` event, a clean end,
    /// and the server keeps serving.
    @Test(.timeLimit(.minutes(1))) func corruptStatusEndsStatusStreamWithErrorEvent() async throws {
        try await withServe("corrupt") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/status/stream") }
            defer { client.close() }
            let first = try await offPool { try client.next(timeout: 10) }
            #expect(first?.event == "status")
            try Data("{ this is not json".utf8).write(to: ws.taskFolder(id).appendingPathComponent("status.json"))
            let frames = try await offPool { try client.readToEnd(timeout: 5) }
            #expect(frames.count == 1)
            #expect(frames.first?.event == "error")
            let error = try JSONValue.parse(frames.first?.data ?? "")
            #expect(error[path: "code"]?.stringValue == "stream_failed")
            #expect(error[path: "message"]?.stringValue?.contains(id) == true)
            #expect(client.endedCleanly)
            let health = try await offPool { try server.health() }
            #expect(health[path: "status"]?.stringValue == "ok")
            #expect(try await server.waitForHealth(timeout: 2) { $0.int("activeStreams") == 0 } != nil)
            // Asking for the corrupt status names the problem instead of a bare 500.
            let direct = try await offPool { try server.request("GET", "/api/tasks/\(id)") }
            #expect(direct.status == 500)
            let body = try JSONValue.parse(String(decoding: direct.body, as: UTF8.self))
            #expect(body[path: "error.code"]?.stringValue == "corrupt_state")
            #expect(body[path: "error.message"]?.stringValue?.contains("status.json is not valid JSON") == true)
        }
    }

    /// A task folder deleted while its events stream is open: an `error` event and a clean end.
    @Test(.timeLimit(.minutes(1))) func deletedTaskEndsEventsStreamWithErrorEvent() async throws {
        try await withServe("deleted") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.append(id)
                return id
            }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/events/stream") }
            defer { client.close() }
            let first = try await offPool { try client.next(timeout: 10) }
            #expect(first?.seq == 1)
            try FileManager.default.removeItem(at: ws.taskFolder(id))
            let frames = try await offPool { try client.readToEnd(timeout: 5) }
            #expect(frames.map(\.event) == ["error"])
            let error = try JSONValue.parse(frames.first?.data ?? "{}")
            #expect(error[path: "code"]?.stringValue == "stream_failed")
            #expect(error[path: "message"]?.stringValue == "Task \(id) no longer exists")
            #expect(client.endedCleanly)
            #expect(try await server.waitForHealth(timeout: 2) { $0.int("activeStreams") == 0 } != nil)
        }
    }

    /// A task folder deleted while its status stream is open: an `error` event and a clean end.
    @Test(.timeLimit(.minutes(1))) func deletedTaskEndsStatusStreamWithErrorEvent() async throws {
        try await withServe("deleted-status") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/status/stream") }
            defer { client.close() }
            let first = try await offPool { try client.next(timeout: 10) }
            #expect(first?.event == "status")
            try FileManager.default.removeItem(at: ws.taskFolder(id))
            let frames = try await offPool { try client.readToEnd(timeout: 5) }
            #expect(frames.map(\.event) == ["error"])
            #expect(client.endedCleanly)
        }
    }

    /// `/api/stream` carries the status changes of every task, made by other processes.
    @Test(.timeLimit(.minutes(1))) func globalStreamCarriesEveryTasksStatusChanges() async throws {
        try await withServe("global") { ws, server in
            let client = try await offPool { try SSEClient(port: server.port, "/api/stream") }
            defer { client.close() }
            #expect(client.head.status == 200)
            #expect(client.head["Content-Type"] == "text/event-stream")
            let (a, b) = try await offPool { () -> (String, String) in
                let a = try ws.createTask(client: "acme")
                let b = try ws.createTask(client: "bolt")
                try ws.setState(a, "RUNNING")
                try ws.setState(b, "RUNNING")
                try ws.setState(a, "DONE")
                try ws.setState(b, "FAILED")
                return (a, b)
            }
            let seen = try await offPool { () -> [String: [String]] in
                var seen: [String: [String]] = [:]
                while seen[a]?.last != "DONE" || seen[b]?.last != "FAILED" {
                    guard let frame = try client.next(timeout: 10) else { break }
                    let status = try JSONValue.parse(frame.data)
                    guard let task = status[path: "taskId"]?.stringValue, let state = status[path: "state"]?.stringValue
                    else { continue }
                    if seen[task]?.last != state { seen[task, default: []].append(state) }
                }
                return seen
            }
            // Each task's states in order (a fast sequence of writes may coalesce into fewer frames).
            #expect(seen[a]?.last == "DONE")
            #expect(seen[b]?.last == "FAILED")
            #expect(seen[a].map { isOrdered($0, ["QUEUED", "RUNNING", "DONE"]) } == true, "\(seen)")
            #expect(seen[b].map { isOrdered($0, ["QUEUED", "RUNNING", "FAILED"]) } == true, "\(seen)")
        }
    }

    /// `demoforge logs ID --follow` without a server prints events appended by another process and exits 0
    /// when the task becomes DONE.
    @Test(.timeLimit(.minutes(1))) func logsFollowPrintsOtherProcessesEventsAndExitsOnDone() async throws {
        let ws = try ServeWorkspace("follow")
        defer { ws.remove() }
        let id = try await offPool { () -> String in
            let id = try ws.createTask()
            try ws.append(id, type: "log", message: "before")
            return id
        }
        let follower = try CommandRunner.start(
            CommandRunner.demoforgeBinary, ["--workspace", ws.root.path, "logs", id, "--follow"])
        defer {
            if follower.isRunning {
                kill(follower.processIdentifier, SIGKILL)
                follower.waitUntilExit()
            }
        }
        let lines = LineSource(follower.standardOutput as! Pipe)
        let first = try await offPool { lines.next() }
        #expect(first?.contains("before") == true)
        try await offPool { try ws.append(id, type: "log", message: "during", count: 3) }
        var during: [String] = []
        for _ in 0..<3 {
            during.append(try await offPool { lines.next() } ?? "<eof>")
        }
        #expect(during.count == 3)
        #expect(during.enumerated().allSatisfy { $0.element.contains("during \($0.offset + 1)") }, "\(during)")
        try await offPool { try ws.setState(id, "DONE") }
        let rest = try await offPool { () -> [String] in
            var rest: [String] = []
            while let line = lines.next() { rest.append(line) }
            return rest
        }
        try await offPool { follower.waitUntilExit() }
        #expect(rest.isEmpty, "\(rest)")
        #expect(follower.terminationStatus == 0)
    }
}

/// True when `states` is a subsequence of `order` (each state at most once, in that order) and not empty.
func isOrdered(_ states: [String], _ order: [String]) -> Bool {
    var index = order.startIndex
    for state in states {
        guard let found = order[index...].firstIndex(of: state) else { return false }
        index = found + 1
    }
    return !states.isEmpty
}
