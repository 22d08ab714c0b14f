#if canImport(Glibc)
import Glibc
#endif
import DemoForgeCore
import DemoForgeProcess
import Foundation
import Synchronization

/// A temp workspace with one task and a bench server child serving it.
struct ServerFixture {
    let folder: TempFolder
    let supervisor: ProcessSupervisor
    let server: Child
    let port: Int
    let taskId: String

    static func start(label: String, preloadEvents: Int = 0, legacyFollower: Bool = false) async throws -> ServerFixture {
        let folder = try TempFolder(label)
        let workspace = ChildModes.workspace(folder.path)
        try workspace.ensureStateFolders()
        let store = TaskStore(workspace: workspace)
        let task = try await store.create(client: "bench", kind: "bench")
        if preloadEvents > 0 {
            try await store.appendBatch(
                task.taskId, (0..<preloadEvents).map { ("bench", nil, "preloaded \($0)", nil) })
        }
        let supervisor = ProcessSupervisor()
        let server = try await Child.start(supervisor, ["--child-server", folder.path] + (legacyFollower ? ["--legacy-follower"] : []))
        guard let port = Int(try await server.line(startingWith: "PORT ")) else { throw BenchError("bad PORT line") }
        return ServerFixture(folder: folder, supervisor: supervisor, server: server, port: port, taskId: task.taskId)
    }

    var streamPath: String { "/api/tasks/\(taskId)/events/stream" }

    func stop() async {
        await server.stop()
        await supervisor.shutdown()
        folder.remove()
    }

    /// Polls `/api/health` until `activeStreams` is `value` (or the timeout); returns the last value seen.
    func waitForActiveStreams(_ value: Int, timeout: Double) async -> Int {
        let deadline = now() + timeout
        var last = -1
        while now() < deadline {
            if let (_, body) = RawSocket.get(port: port, path: "/api/health"),
                let range = body.range(of: "\"activeStreams\":"),
                let n = Int(body[range.upperBound...].prefix { $0.isNumber })
            {
                last = n
                if n == value { return n }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return last
    }
}

enum SSEFanout {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "sse-fanout")
        let counts = options.streams ?? (options.quick ? [100, 1000] : [100, 1000, 10_000])
        let rate = 10.0
        let seconds = options.quick ? 3.0 : 8.0
        report.parameters = [
            "streams": counts.map(String.init).joined(separator: ","), "appendRate": "\(Int(rate))/s",
            "appendSeconds": "\(Int(seconds))", "appender": "separate process (TaskStore.append)",
            "server": "separate process (HTTPServer + TaskWatcher/inotify + TaskFollower)",
            "runs": options.quick ? "1" : "3 (1 for 10000)",
            "follower": options.legacyFollower ? "legacy (pre-fix)" : "TaskFollower",
        ]
        for n in counts {
            let runs = options.quick || n >= 10_000 ? 1 : 3
            var p50: [Double] = [], p99: [Double] = [], maxes: [Double] = [], delivered: [Double] = []
            var rssPer1k: [Double] = [], cpuPer1k: [Double] = [], bytesPerStream: [Double] = [], lost: [Double] = []
            var idle: [Double] = [], cpuTotal: [Double] = [], cpuPerEvent: [Double] = [], clientCPU: [Double] = [], stillOpen: [Double] = []
            for _ in 0..<runs {
                let fixture = try await ServerFixture.start(label: "fanout", legacyFollower: options.legacyFollower)
                do {
                    try await Task.sleep(for: .milliseconds(300))
                    let idleRSS = ProcStats.rss(pid: fixture.server.pid)
                    let clients = StreamClients()
                    let port = fixture.port, path = fixture.streamPath
                    await offThread { clients.open(port: port, path: path, count: n) }
                    let ok = clients.okCount
                    guard ok == n else { throw BenchError("only \(ok) of \(n) streams opened (\(clients.failures) failed)") }
                    try await Task.sleep(for: .milliseconds(500))
                    let streamsRSS = ProcStats.rss(pid: fixture.server.pid)
                    clients.resetCounters()
                    let cpu0 = ProcStats.cpuSeconds(pid: fixture.server.pid)
                    let ownCPU0 = ProcStats.cpuSeconds(pid: getpid())
                    let t0 = now()
                    let appender = try await Child.start(
                        fixture.supervisor,
                        ["--child-append", fixture.folder.path, fixture.taskId, String(rate), String(seconds)])
                    // Pump while the appender runs, then until every appended event reached every stream.
                    let pumping = Task { await offThread { clients.pump(for: seconds + 0.5) } }
                    let appended = Int(try await appender.line(startingWith: "APPENDED ", timeout: seconds + 30)) ?? 0
                    await pumping.value
                    await offThread { clients.pump(untilEvents: appended * n, timeout: 15) }
                    let t1 = now()
                    let cpu1 = ProcStats.cpuSeconds(pid: fixture.server.pid)
                    clientCPU.append((ProcStats.cpuSeconds(pid: getpid()) - ownCPU0) / (now() - t0) * 100)
                    _ = await appender.process.wait()
                    let lat = clients.latencies.map { $0 / 1e6 }
                    p50.append(Stats.quantile(lat, 0.5))
                    p99.append(Stats.quantile(lat, 0.99))
                    maxes.append(lat.max() ?? .nan)
                    let span = Double(clients.lastArrival - clients.firstArrival) / 1e9
                    delivered.append(Double(clients.events) / max(span, 0.001))
                    lost.append(Double(appended * n - clients.events))
                    idle.append(idleRSS / 1e6)
                    rssPer1k.append((streamsRSS - idleRSS) / Double(n) * 1000 / 1e6)
                    let cpuPercent = (cpu1 - cpu0) / (t1 - t0) * 100
                    cpuTotal.append(cpuPercent)
                    cpuPerEvent.append((cpu1 - cpu0) / Double(max(clients.events, 1)) * 1e6)
                    cpuPer1k.append(cpuPercent / (Double(n) / 1000))
                    bytesPerStream.append(Double(clients.bytes) / Double(n))
                    stillOpen.append(Double(clients.okCount))
                    clients.closeAll()
                } catch {
                    await fixture.stop()
                    throw error
                }
                await fixture.stop()
            }
            report.add("[\(n)] latency p50", Stats.median(p50), "ms")
            report.add("[\(n)] latency p99", Stats.median(p99), "ms")
            report.add("[\(n)] latency max", Stats.median(maxes), "ms")
            report.add("[\(n)] events delivered/s (all streams)", Stats.median(delivered), "events/s")
            report.add("[\(n)] events lost (appended x streams - received)", Stats.median(lost), "events")
            report.add("[\(n)] streams still open at the end", Stats.median(stillOpen), "streams")
            report.add("[\(n)] server idle RSS", Stats.median(idle), "MB")
            report.add("[\(n)] server RSS per 1k streams", Stats.median(rssPer1k), "MB")
            report.add("[\(n)] server CPU, append start to last delivery", Stats.median(cpuTotal), "% of a core")
            report.add("[\(n)] server CPU time per delivered event", Stats.median(cpuPerEvent), "µs")
            report.add("[\(n)] server CPU per 1k streams", Stats.median(cpuPer1k), "% of a core")
            report.add("[\(n)] bench client CPU (same window)", Stats.median(clientCPU), "% of a core")
            report.add("[\(n)] bytes per stream (\(Int(rate * seconds)) events)", Stats.median(bytesPerStream), "B")
        }
        report.notes.append("latency = receive time in the client process minus CLOCK_MONOTONIC at append in the appender process")
        return report
    }
}

enum SSEChurn {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "sse-churn")
        let cycles = options.quick ? 20_000 : 100_000
        let workers = 4
        report.parameters = [
            "cycles": String(cycles), "clientThreads": String(workers),
            "cycle": "connect, GET stream, read 200 header + first event, close (even: FIN, odd: RST)",
        ]
        let fixture = try await ServerFixture.start(label: "churn", preloadEvents: 3, legacyFollower: options.legacyFollower)
        do {
            let port = fixture.port, path = fixture.streamPath
            _ = await churn(port: port, path: path, cycles: 1000, workers: workers)
            _ = await fixture.waitForActiveStreams(0, timeout: 10)
            let fds0 = ProcStats.fdCount(pid: fixture.server.pid)
            let rss0 = ProcStats.rss(pid: fixture.server.pid)
            let t0 = now()
            let (done, failed) = await churn(port: port, path: path, cycles: cycles, workers: workers)
            let elapsed = now() - t0
            let active = await fixture.waitForActiveStreams(0, timeout: 10)
            try await Task.sleep(for: .milliseconds(200))
            let fds1 = ProcStats.fdCount(pid: fixture.server.pid)
            let rss1 = ProcStats.rss(pid: fixture.server.pid)
            report.add("cycles per second", Double(done) / elapsed, "cycles/s")
            report.add("failed cycles", Double(failed), "cycles")
            report.add("server fds before (after 1k warm-up)", Double(fds0), "fds")
            report.add("server fds after", Double(fds1), "fds")
            report.add("server RSS before (after 1k warm-up)", rss0 / 1e6, "MB")
            report.add("server RSS after", rss1 / 1e6, "MB")
            report.add("active streams after (health)", Double(active), "streams")
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
        return report
    }

    /// Runs `cycles` connect/read/close cycles on `workers` threads; returns (done, failed).
    static func churn(port: Int, path: String, cycles: Int, workers: Int) async -> (Int, Int) {
        let nextBox = AtomicBox(), failedBox = AtomicBox()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    await offThread {
                        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
                        while true {
                            let i = nextBox.add()
                            if i >= cycles { return }
                            let fd = RawSocket.connect(port: port)
                            guard fd >= 0, RawSocket.sendAll(fd, request) else {
                                if fd >= 0 { close(fd) }
                                _ = failedBox.add()
                                continue
                            }
                            let bytes = RawSocket.read(fd, timeout: 5) { StreamClients.find($0, Array("id: 1\n".utf8), from: 0) != nil }
                            if !String(decoding: bytes.prefix(12), as: UTF8.self).hasPrefix("HTTP/1.1 200") { _ = failedBox.add() }
                            if i % 2 == 0 { close(fd) } else { RawSocket.abort(fd) }
                        }
                    }
                }
            }
        }
        return (min(cycles, nextBox.load()) - failedBox.load(), failedBox.load())
    }
}

/// An `Atomic<Int>` shareable with threads.
final class AtomicBox: Sendable {
    private let value = Atomic<Int>(0)
    init() {}
    /// Adds one; returns the previous value.
    func add() -> Int { value.add(1, ordering: .relaxed).oldValue }
    func load() -> Int { value.load(ordering: .relaxed) }
}
