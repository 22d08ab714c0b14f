#if canImport(Glibc)
import Glibc
#endif
import DemoForgeCore
import DemoForgeHTTP
import DemoForgeStore
import Foundation

/// Modes in which the bench binary runs as a helper process of a scenario (`demoforge-bench --child-...`).
enum ChildModes {
    /// A workspace with default configuration at `root` (no config file needed).
    static func workspace(_ root: String) -> Workspace {
        Workspace(root: URL(fileURLWithPath: root), config: Configuration())
    }

    /// `--child-server ROOT`: an HTTP server with `/api/health` and `/api/tasks/{id}/events/stream` fed by
    /// inotify (TaskWatcher -> TaskChangeHub -> TaskFollower). Prints `PORT n` and serves until killed.
    static func server(root: String, legacyFollower: Bool = false) async throws -> Never {
        raiseDescriptorLimit()
        let workspace = workspace(root)
        try workspace.ensureStateFolders()
        let hub = TaskChangeHub()
        let watcher = try TaskWatcher(tasksFolder: workspace.tasksFolder, hub: hub)
        let store = TaskStore(workspace: workspace, hub: hub)
        let metrics = HTTPMetrics()
        var router = Router()
        router.get("/api/health") { _ in
            .json(text: "{\"activeStreams\":\(metrics.activeStreams),\"status\":\"ok\",\"subscribers\":\(hub.subscriberCount)}")
        }
        router.get("/api/tasks/{id}/events/stream") { request in
            let id = try store.checkedId(request.parameters["id"] ?? "")
            let from = (request.lastEventID.flatMap { Int($0) }.map { $0 + 1 }) ?? request.queryValue("from").flatMap { Int($0) } ?? 1
            return .eventStream(key: id) { stream in
                let events = legacyFollower
                    ? LegacyFollower.events(store: store, hub: hub, taskId: id, from: from)
                    : TaskFollower.events(store: store, hub: hub, taskId: id, from: from, untilTerminal: true)
                do {
                    for try await event in events {
                        if !stream.send(id: String(event.seq), event: event.type, data: event.toJSON().compact()) { break }
                    }
                } catch {}
            }
        }
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.maxStreams = 50_000
        config.maxStreamsPerKey = 50_000
        config.log = { _ in }
        let server = HTTPServer(configuration: config, router: router, metrics: metrics)
        let port = try await server.start()
        emitLine("PORT \(port)")
        while true { try? await Task.sleep(for: .seconds(3600)) }
        _ = watcher
    }

    /// `--child-append ROOT TASK RATE SECONDS`: appends `RATE` events a second for `SECONDS` through the task
    /// store, each message `t=<CLOCK_MONOTONIC ns>`; prints `APPENDED n`.
    static func append(root: String, task: String, rate: Double, seconds: Double) async throws -> Never {
        let store = TaskStore(workspace: workspace(root))
        let start = now()
        var n = 0
        while true {
            let due = start + Double(n) / rate
            if due > start + seconds { break }
            let wait = due - now()
            if wait > 0 { try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
            try await store.append(task, type: "bench", message: "t=\(monotonicNanos())")
            n += 1
        }
        emitLine("APPENDED \(n)")
        exit(0)
    }

    /// `--child-rmw ROOT SLUG N`: N context read-modify-writes incrementing `results.counter`; prints
    /// `WAITS ms,ms,...` (time from the call to entering the locked section).
    static func rmw(root: String, slug: String, count: Int) async throws -> Never {
        let contexts = ContextStore(workspace: workspace(root))
        var waits: [String] = []
        waits.reserveCapacity(count)
        for _ in 0..<count {
            let called = now()
            let entered = LockedBox<Double>(0)
            try await contexts.update(slug) { document in
                entered.value = now()
                let current = document[path: "results.counter"]?.intValue ?? 0
                document.set(path: "results.counter", to: .int(current + 1))
            }
            waits.append(String(format: "%.3f", (entered.value - called) * 1000))
        }
        emitLine("WAITS " + waits.joined(separator: ","))
        exit(0)
    }
}

/// A value shared with a `@Sendable` closure that runs synchronously (bench-only convenience).
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Writes a line to fd 1 at once (the parent waits for it; no stdio buffering).
func emitLine(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        sent += n
    }
}

/// The task follower as it was before commit "TaskFollower: resolve the log once, read status on status nudges"
/// (re-validates the id, rebuilds URLs and re-reads status.json on every nudge), kept to measure before/after
/// in one binary: `demoforge-bench sse-fanout --legacy-follower`.
enum LegacyFollower {
    static func events(store: TaskStore, hub: TaskChangeHub, taskId: String, from: Int) -> AsyncThrowingStream<TaskEvent, any Error> {
        AsyncThrowingStream { continuation in
            let worker = Task {
                let changes = hub.subscribe(taskId: taskId)
                var next = max(1, from)
                do {
                    var iterator = changes.makeAsyncIterator()
                    while !Task.isCancelled {
                        while true {
                            let page = try store.events(taskId, from: next, limit: 500)
                            for event in page { continuation.yield(event) }
                            if let last = page.last { next = last.seq + 1 }
                            if page.count < 500 { break }
                        }
                        if try store.status(taskId).state.isTerminal {
                            for event in try store.events(taskId, from: next, limit: Int.max) { continuation.yield(event) }
                            break
                        }
                        guard await iterator.next() != nil else { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in worker.cancel() }
        }
    }
}
