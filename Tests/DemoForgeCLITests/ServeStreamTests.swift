import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// End-to-end tests of `demoforge serve`: a real server child on a workspace made by `demoforge init`, real
/// client sockets and curl processes, tasks written by separate `demoforge __task` processes.
///
/// Serialized: several tests measure latencies and release times on a 2-core machine.
@Suite(.serialized) struct ServeTests {}

/// Starts a server on a fresh workspace, runs `body`, then stops the server with SIGTERM and expects exit 0.
func withServe(
    _ label: String, settings: [String: JSONValue] = [:], arguments: [String] = [],
    _ body: (ServeWorkspace, ServeProcess) async throws -> Void
) async throws {
    let ws = try ServeWorkspace(label, settings: settings)
    defer { ws.remove() }
    let server = try await ServeProcess.start(ws, arguments: arguments)
    defer { server.killIfRunning() }
    try await body(ws, server)
    let stop = try await server.terminate()
    #expect(stop.status == 0, "serve exited \(stop.status); stderr: \(server.stderr)")
}

extension ServeTests {
    /// 10,000 events appended by separate processes while the client disconnects at 20 random points and
    /// resumes with Last-Event-ID: every seq 1...10000 exactly once, in order; afterwards a resume is a 204.
    @Test(.timeLimit(.minutes(4))) func replayWithTwentyReconnectsDeliversEverySeqExactlyOnce() async throws {
        try await withServe("replay") { ws, server in
            let id = try await offPool { try ws.createTask() }
            var cuts = Set<Int>()
            while cuts.count < 20 { cuts.insert(Int.random(in: 1...9999)) }
            let cutPoints = cuts.sorted()
            let start = monotonicSeconds()
            let appender = Task {
                try await offPool {
                    for _ in 0..<5 { try ws.append(id, type: "log", message: "line", count: 2000) }
                    try ws.setState(id, "DONE")
                }
            }
            let port = server.port
            let (seqs, connections, stray) = try await offPool { () -> ([Int], Int, [SSEFrame]) in
                var received: [Int] = []
                var stray: [SSEFrame] = []
                var remaining = cutPoints[...]
                var connections = 0
                reconnect: while true {
                    let headers = received.last.map { [("Last-Event-ID", String($0))] } ?? []
                    let client = try SSEClient(port: port, "/api/tasks/\(id)/events/stream", headers: headers)
                    defer { client.close() }
                    connections += 1
                    guard client.head.status == 200 else { throw RawHTTPError("stream answered \(client.head.status)") }
                    while let frame = try client.next(timeout: 60) {
                        guard frame.event == "task-event", let seq = frame.seq else {
                            stray.append(frame)
                            continue
                        }
                        received.append(seq)
                        if let cut = remaining.first, seq >= cut {
                            remaining.removeFirst()
                            continue reconnect
                        }
                    }
                    return (received, connections, stray)
                }
            }
            try await appender.value
            let seconds = Int(monotonicSeconds() - start)
            print("replay: 10000 events over \(connections) connections in \(seconds) s; cuts \(cutPoints)")
            #expect(seqs.count == 10000)
            #expect(seqs == Array(1...10000))
            #expect(connections == 21)
            #expect(stray.isEmpty)
            let after = try await offPool {
                try server.request("GET", "/api/tasks/\(id)/events/stream", headers: [("Last-Event-ID", "10000")])
            }
            #expect(after.status == 204)
        }
    }

    /// 1,000 connect/disconnect cycles (closing before the head, after the head, after the first event):
    /// no stream, subscription or timer remains and the server's descriptor count is back to its baseline.
    @Test(.timeLimit(.minutes(3))) func thousandConnectDisconnectCyclesLeaveNothingBehind() async throws {
        try await withServe("cycles") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.append(id, count: 3)
                return id
            }
            let port = server.port
            let path = "/api/tasks/\(id)/events/stream"
            // Warm up (lazily opened descriptors), then take the baseline once the count is steady.
            try await offPool {
                let client = try SSEClient(port: port, path)
                _ = try client.next()
                client.close()
            }
            #expect(try await server.waitForHealth(timeout: 5) { $0.int("activeStreams") == 0 } != nil)
            let baseline = await steadyDescriptorCount(server)
            let start = monotonicSeconds()
            try await offPool {
                for i in 0..<1000 {
                    let connection = try RawHTTPConnection(port: port)
                    try connection.sendRequest("GET", path)
                    switch i % 3 {
                    case 0: break
                    case 1: _ = try connection.readHead()
                    default:
                        let head = try connection.readHead()
                        guard head.status == 200 else { throw RawHTTPError("cycle \(i): status \(head.status)") }
                        _ = try connection.readStream { $0.contains("\n\n") }
                    }
                    connection.close()
                }
            }
            let cyclesSeconds = monotonicSeconds() - start
            let settled = try await server.waitForHealth(timeout: 5) {
                $0.int("activeStreams") == 0 && $0.int("subscriptions") == 0 && $0.int("liveTimers") == 0
            }
            let health = try await offPool { try server.health() }
            #expect(settled != nil, "health after 1000 cycles: \(health.compact())")
            #expect(health.int("activeStreams") == 0)
            #expect(health.int("subscriptions") == 0)
            #expect(health.int("liveTimers") == 0)
            let back = await ProcessInspection.eventually(5) { abs(server.descriptorCount - baseline) <= 2 }
            #expect(back, "server descriptors: baseline \(baseline), now \(server.descriptorCount)")
            let after = server.descriptorCount
            print("1000 cycles in \(Int(cyclesSeconds * 1000)) ms; server fds baseline \(baseline), after \(after)")
        }
    }

    /// 100 streams: 50 closed by the client, 50 held by curl processes that are SIGKILLed: all released
    /// within 1 s.
    @Test(.timeLimit(.minutes(2))) func fiftyClosedAndFiftyKilledClientsAreReleasedWithinOneSecond() async throws {
        try await withServe("kill") { ws, server in
            let (a, b) = try await offPool { (try ws.createTask(), try ws.createTask()) }
            let port = server.port
            let raw = try await offPool { () -> [SSEClient] in
                try (0..<50).map { _ in try SSEClient(port: port, "/api/tasks/\(a)/events/stream") }
            }
            #expect(raw.allSatisfy { $0.head.status == 200 })
            var curls: [Process] = []
            defer {
                for curl in curls where curl.isRunning { kill(curl.processIdentifier, SIGKILL) }
                for curl in curls { curl.waitUntilExit() }
            }
            for _ in 0..<50 {
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                curl.arguments = ["-sN", "http://127.0.0.1:\(port)/api/tasks/\(b)/events/stream"]
                curl.standardOutput = FileHandle.nullDevice
                curl.standardError = FileHandle.nullDevice
                try curl.run()
                curls.append(curl)
            }
            let opened = try await server.waitForHealth(timeout: 30) { $0.int("activeStreams") == 100 }
            #expect(opened != nil)
            let start = monotonicSeconds()
            for curl in curls { kill(curl.processIdentifier, SIGKILL) }
            for client in raw { client.close() }
            let released = try await server.waitForHealth(timeout: 5) { $0.int("activeStreams") == 0 }
            let elapsed = monotonicSeconds() - start
            #expect(released != nil)
            #expect(elapsed < 1.0)
            let health = try await offPool { try server.health() }
            #expect(health.int("subscriptions") == 0)
            #expect(health.int("liveTimers") == 0)
            print("100 streams (50 closed, 50 SIGKILLed) released in \(Int(elapsed * 1000)) ms")
        }
    }

    /// `Accept-Encoding: gzip, br` changes nothing: first event within 200 ms, no Content-Encoding, SSE headers.
    @Test(.timeLimit(.minutes(1))) func acceptEncodingGetsUncompressedStreamWithFirstEventWithin200ms() async throws {
        try await withServe("gzip") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.append(id, type: "step", message: "hello")
                return id
            }
            let port = server.port
            let (head, frame, elapsed) = try await offPool { () -> (RawHTTPHead, SSEFrame?, Double) in
                let start = monotonicSeconds()
                let client = try SSEClient(
                    port: port, "/api/tasks/\(id)/events/stream", headers: [("Accept-Encoding", "gzip, br")])
                defer { client.close() }
                let frame = try client.next(timeout: 2)
                return (client.head, frame, monotonicSeconds() - start)
            }
            #expect(head.status == 200)
            #expect(head["Content-Encoding"] == nil)
            #expect(head["Content-Type"] == "text/event-stream")
            #expect(head["Cache-Control"] == "no-cache")
            #expect(head["X-Accel-Buffering"] == "no")
            #expect(frame?.seq == 1)
            #expect(frame?.event == "task-event")
            let event = try JSONValue.parse(frame?.data ?? "")
            #expect(event[path: "message"]?.stringValue == "hello")
            #expect(event[path: "type"]?.stringValue == "step")
            #expect(elapsed < 0.2)
            print("first event with Accept-Encoding: gzip, br after \(Int(elapsed * 1000)) ms")
        }
    }

    /// An append by a separate process reaches an open stream in under 100 ms (median of 10).
    @Test(.timeLimit(.minutes(2))) func appendBySeparateProcessReachesOpenStreamWithin100ms() async throws {
        try await withServe("latency") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/events/stream") }
            defer { client.close() }
            #expect(client.head.status == 200)
            var latencies: [Double] = []
            for round in 1...11 {
                let appender = Task { try await offPool { try ws.append(id, type: "log", message: "round \(round)") } }
                let (frame, received) = try await offPool { () -> (SSEFrame?, Double) in
                    let frame = try client.next(timeout: 10)
                    return (frame, Date().timeIntervalSince1970)
                }
                let appended = try await appender.value
                #expect(frame?.seq == round)
                #expect(appended.seq == round)
                // Round 1 warms up the server's file caches; rounds 2...11 are measured.
                if round > 1 { latencies.append(received - appended.epoch) }
            }
            let sorted = latencies.sorted()
            let median = (sorted[4] + sorted[5]) / 2
            print("append-to-stream latency ms: median \(Int(median * 1000)), all \(sorted.map { Int($0 * 1000) })")
            #expect(median < 0.1)
        }
    }

    /// SIGTERM with 500 open streams: every client sees the terminating chunk, the process exits 0 within 2 s.
    @Test(.timeLimit(.minutes(2)))
    func sigtermWith500OpenStreamsEndsEveryStreamAndExitsWithinTwoSeconds() async throws {
        let ws = try ServeWorkspace("sigterm")
        defer { ws.remove() }
        let server = try await ServeProcess.start(ws)
        defer { server.killIfRunning() }
        let ids = try await offPool { try (0..<5).map { _ in try ws.createTask() } }
        let port = server.port
        let clients = try await offPool { () -> [SSEClient] in
            try (0..<500).map { i in try SSEClient(port: port, "/api/tasks/\(ids[i % 5])/events/stream") }
        }
        defer { for client in clients { client.close() } }
        #expect(clients.allSatisfy { $0.head.status == 200 })
        #expect(try await server.waitForHealth(timeout: 10) { $0.int("activeStreams") == 500 } != nil)
        let stop = try await server.terminate()
        let ended = try await offPool { clients.map { (try? $0.readToEnd(timeout: 5)) != nil && $0.endedCleanly } }
        #expect(stop.status == 0)
        #expect(stop.seconds < 2.0)
        #expect(ended.filter { $0 }.count == 500)
        print("SIGTERM with 500 streams: exit \(stop.status) after \(Int(stop.seconds * 1000)) ms")
    }
}

/// The server's descriptor count once it has not changed for 200 ms (connections of earlier requests closed).
func steadyDescriptorCount(_ server: ServeProcess) async -> Int {
    var last = server.descriptorCount
    var steadySince = monotonicSeconds()
    let deadline = monotonicSeconds() + 5
    while monotonicSeconds() < deadline {
        try? await Task.sleep(for: .milliseconds(20))
        let now = server.descriptorCount
        if now != last {
            last = now
            steadySince = monotonicSeconds()
        } else if monotonicSeconds() - steadySince > 0.2 {
            break
        }
    }
    return last
}
