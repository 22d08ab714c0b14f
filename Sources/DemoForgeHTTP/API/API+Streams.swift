import DemoForgeCore
import DemoForgeStore
import Foundation

extension APIServices {
    func addStreams(to router: inout Router) {
        let services = self
        // A task's events: replay from Last-Event-ID + 1 (or ?from=N), then live, ending once the task is
        // terminal and drained. The subscription is taken before the replay, so nothing falls in between.
        router.get("/api/tasks/{id}/events/stream") { request in
            try await API.handle {
                let id = try API.taskId(request)
                var from = try request.queryInt("from", range: 1...Int.max) ?? 1
                if let last = request.lastEventID, let seq = Int(last.trimmingCharacters(in: .whitespaces)), seq >= 0 {
                    from = seq + 1
                }
                let status = try services.tasks.status(id)
                // A finished task with nothing left to send: 204 tells EventSource to stop reconnecting.
                if status.state.isTerminal, try services.tasks.events(id, from: from, limit: 1).isEmpty {
                    return HTTPResponse(status: 204)
                }
                let start = from
                return HTTPResponse.eventStream(key: id) { stream in
                    let events = TaskFollower.events(store: services.tasks, hub: services.hub, taskId: id, from: start, untilTerminal: true)
                    do {
                        for try await event in events {
                            guard stream.send(id: String(event.seq), event: "task-event", data: event.toJSON().compact()) else { return }
                        }
                    } catch {
                        _ = stream.send(event: "error", data: Self.streamError(error, taskId: id))
                    }
                    stream.finish()
                }
            }
        }
        // A task's status: the current one first, then every change; ends after a terminal state.
        router.get("/api/tasks/{id}/status/stream") { request in
            try await API.handle {
                let id = try API.taskId(request)
                _ = try services.tasks.status(id)
                return HTTPResponse.eventStream(key: id) { stream in
                    do {
                        for try await status in TaskFollower.statuses(store: services.tasks, hub: services.hub, taskId: id) {
                            guard stream.send(event: "status", data: status.toJSON().compact()) else { return }
                        }
                    } catch {
                        _ = stream.send(event: "error", data: Self.streamError(error, taskId: id))
                    }
                    stream.finish()
                }
            }
        }
        // Every task's status changes, for one dashboard page: the unfinished tasks first, then each change.
        router.get("/api/stream") { _ in
            HTTPResponse.eventStream(key: nil) { stream in
                let changes = services.hub.subscribe(taskId: nil)
                var lastSent: [String: String] = [:]
                func send(_ status: TaskStatus) -> Bool {
                    guard lastSent[status.taskId] != status.updatedAt else { return true }
                    lastSent[status.taskId] = status.updatedAt
                    return stream.send(event: "status", data: status.toJSON().compact())
                }
                for status in services.tasks.list() where !status.state.isTerminal {
                    guard send(status) else { return }
                }
                for await change in changes where change.kind == .status {
                    guard let status = try? services.tasks.status(change.taskId) else { continue }
                    guard send(status) else { return }
                }
            }
        }
    }

    static func streamError(_ error: any Error, taskId: String) -> String {
        let message: String
        if let error = error as? StoreError {
            message = error.code == .notFound ? "Task \(taskId) no longer exists" : "Task \(taskId) is unreadable: \(error.message)"
        } else {
            message = "Task \(taskId) stream failed: \(error)"
        }
        return JSONValue.object(["code": "stream_failed", "message": .string(message)]).compact()
    }
}
