import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

extension ServeTests {
    /// A fresh client replaying a 20,000-event log (about 3 MB) from seq 1 while reading at full speed gets
    /// every event: a backlog larger than the output cap is not a slow reader.
    @Test(.timeLimit(.minutes(3))) func largeBacklogReplayReachesANormalReaderInFull() async throws {
        try await withServe("backlog") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.append(id, type: "log", message: String(repeating: "x", count: 60), count: 20_000)
                try ws.setState(id, "DONE")
                return id
            }
            let port = server.port
            let (seqs, clean) = try await offPool { () -> ([Int], Bool) in
                let client = try SSEClient(port: port, "/api/tasks/\(id)/events/stream?from=1")
                defer { client.close() }
                var seqs: [Int] = []
                do {
                    while let frame = try client.next(timeout: 20) { seqs.append(frame.seq ?? -1) }
                } catch {
                    return (seqs, false)
                }
                return (seqs, client.endedCleanly)
            }
            #expect(seqs.count == 20_000)
            #expect(seqs == Array(1...20_000))
            #expect(clean)
        }
    }

    /// A half-written last line (a writer killed mid-append) is never streamed; the next append repairs the
    /// log and the open stream receives it with the next seq.
    @Test(.timeLimit(.minutes(1))) func halfWrittenLastLineIsSkippedAndRepairedWhileStreaming() async throws {
        try await withServe("torn") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.append(id, type: "log", message: "one", count: 2)
                return id
            }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/events/stream") }
            defer { client.close() }
            let first = try await offPool { [try client.next(timeout: 5), try client.next(timeout: 5)] }
            #expect(first.map { $0?.seq } == [1, 2])
            let log = ws.taskFolder(id).appendingPathComponent("events.jsonl")
            let handle = try FileHandle(forWritingTo: log)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"message":"torn","seq":3,"ty"#.utf8))
            try handle.close()
            let appended = try await offPool { try ws.append(id, type: "log", message: "after") }
            #expect(appended.seq == 3)
            let next = try await offPool { try client.next(timeout: 5) }
            #expect(next?.seq == 3)
            #expect(try JSONValue.parse(next?.data ?? "{}")[path: "message"]?.stringValue == "after")
            let page = try await offPool { try server.request("GET", "/api/tasks/\(id)/events?from=1") }
            let body = try JSONValue.parse(page.text)
            #expect(body.int("next") == 4)
            #expect(body[path: "events.2.message"]?.stringValue == "after")
        }
    }

    /// POST /api/tasks/{id}/cancel: the status stream sees CANCELLED and ends; a second cancel changes nothing.
    @Test(.timeLimit(.minutes(1))) func cancelEndsTheStatusStreamWithCancelled() async throws {
        try await withServe("cancel") { ws, server in
            let id = try await offPool { () -> String in
                let id = try ws.createTask()
                try ws.setState(id, "RUNNING")
                return id
            }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/status/stream") }
            defer { client.close() }
            let first = try await offPool { try client.next(timeout: 5) }
            #expect(try JSONValue.parse(first?.data ?? "{}")[path: "state"]?.stringValue == "RUNNING")
            let cancel = try await offPool { try server.request("POST", "/api/tasks/\(id)/cancel") }
            #expect(cancel.status == 200)
            #expect(try JSONValue.parse(cancel.text)[path: "state"]?.stringValue == "CANCELLED")
            let rest = try await offPool { try client.readToEnd(timeout: 5) }
            #expect(rest.count == 1)
            #expect(try JSONValue.parse(rest.first?.data ?? "{}")[path: "state"]?.stringValue == "CANCELLED")
            #expect(client.endedCleanly)
            let again = try await offPool { try server.request("POST", "/api/tasks/\(id)/cancel") }
            #expect(again.status == 200)
            let events = try await offPool { try server.request("GET", "/api/tasks/\(id)/events/stream") }
            #expect(events.status == 204)
        }
    }

    /// Unknown but well-formed task ids and unknown paths are 404 JSON; `?from=0` is a 400.
    @Test(.timeLimit(.minutes(1))) func unknownTaskIs404AndBadFromIs400() async throws {
        try await withServe("unknown") { ws, server in
            let missing = "01jzzzzzzzzzzzzzzzzzzzzzzz"
            for target in [
                "/api/tasks/\(missing)", "/api/tasks/\(missing)/events", "/api/tasks/\(missing)/events/stream",
                "/api/tasks/\(missing)/status/stream",
            ] {
                let response = try await offPool { try server.request("GET", target) }
                #expect(response.status == 404, "\(target): \(response.status) \(response.text)")
                #expect(try JSONValue.parse(response.text)[path: "error.code"]?.stringValue == "not_found")
            }
            let nowhere = try await offPool { try server.request("GET", "/api/no-such-route") }
            #expect(nowhere.status == 404)
            #expect(try JSONValue.parse(nowhere.text)[path: "error.code"]?.stringValue == "not_found")
            let id = try await offPool { try ws.createTask() }
            let zero = try await offPool { try server.request("GET", "/api/tasks/\(id)/events?from=0") }
            #expect(zero.status == 400)
            let stream = try await offPool { try server.request("GET", "/api/tasks/\(id)/events/stream?from=abc") }
            #expect(stream.status == 400)
        }
    }

    /// 300 connect/disconnect cycles on the status stream and on /api/stream leave no subscription behind.
    @Test(.timeLimit(.minutes(2))) func statusAndGlobalStreamCyclesLeaveNoSubscription() async throws {
        try await withServe("cycles2") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let port = server.port
            try await offPool {
                for i in 0..<300 {
                    let target = i % 2 == 0 ? "/api/tasks/\(id)/status/stream" : "/api/stream"
                    let client = try SSEClient(port: port, target)
                    if i % 4 < 2 { _ = try client.next(timeout: 5) }
                    client.close()
                }
            }
            let settled = try await server.waitForHealth(timeout: 5) {
                $0.int("activeStreams") == 0 && $0.int("subscriptions") == 0 && $0.int("liveTimers") == 0
            }
            let health = try await offPool { try server.health() }
            #expect(settled != nil, "\(health.compact())")
        }
    }

    /// Heartbeats at `sse.heartbeatSeconds` reach an idle stream as `:` comments.
    @Test(.timeLimit(.minutes(1))) func heartbeatCommentsArriveOnAnIdleStream() async throws {
        try await withServe("heartbeat", settings: ["sse.heartbeatSeconds": .double(0.5)]) { ws, server in
            let id = try await offPool { try ws.createTask() }
            let (text, elapsed) = try await offPool { () -> (String, Double) in
                let connection = try RawHTTPConnection(port: server.port)
                defer { connection.close() }
                try connection.sendRequest("GET", "/api/tasks/\(id)/events/stream")
                _ = try connection.readHead()
                let start = monotonicSeconds()
                let text = try connection.readStream(timeout: 5) {
                    $0.components(separatedBy: ": heartbeat").count >= 3
                }
                return (text, monotonicSeconds() - start)
            }
            #expect(text.hasPrefix(": heartbeat"))
            #expect(elapsed > 0.7 && elapsed < 2.5, "two heartbeats took \(elapsed) s")
        }
    }
}

extension ServeTests {
    /// With heartbeats at 2 s, a client that keeps its socket open but stops reading is released while output
    /// for it keeps coming (15 MB appended over several seconds), not kept forever with a growing buffer.
    ///
    /// On loopback the kernel takes about 4 MB before the 1 MiB cap of unsent output can fill; at the rate a
    /// separate appender process reaches, the zero-window timeout (TCP_USER_TIMEOUT = one heartbeat) or the
    /// write timeout (two heartbeats) ends the stream first, so either reason counts here. The cap itself is
    /// proved by DemoForgeHTTPTests.pausedReaderIsDroppedOnceItsBufferPassesTheCap with an in-process producer.
    @Test(.timeLimit(.minutes(3))) func pausedReaderIsReleasedWhileOutputKeepsComing() async throws {
        try await withServe("paused", settings: ["sse.heartbeatSeconds": 2]) { ws, server in
            let id = try await offPool { try ws.createTask() }
            let port = server.port
            let paused = try await offPool { () -> RawHTTPConnection in
                let connection = try RawHTTPConnection(port: port, receiveBuffer: 4096)
                try connection.sendRequest("GET", "/api/tasks/\(id)/events/stream")
                _ = try connection.readHead()
                return connection
            }
            defer { paused.close() }
            #expect(try await server.waitForHealth(timeout: 5) { $0.int("activeStreams") == 1 } != nil)
            let start = monotonicSeconds()
            let appender = Task {
                let message = String(repeating: "p", count: 100_000)
                try await offPool { try ws.append(id, type: "log", message: message, count: 150) }
            }
            let released = try await server.waitForHealth(timeout: 30) { $0.int("activeStreams") == 0 }
            let releasedAt = monotonicSeconds() - start
            _ = try await appender.value
            let appendSeconds = monotonicSeconds() - start
            print("paused reader released after \(Int(releasedAt * 1000)) ms; appends: \(Int(appendSeconds * 1000)) ms")
            #expect(released != nil)
            #expect(releasedAt < appendSeconds)
            let health = try await offPool { try server.health() }
            #expect(health.int("subscriptions") == 0)
            #expect(health.int("liveTimers") == 0)
            let metrics = try await offPool { try server.request("GET", "/metrics").text }
            #expect(metrics.contains("demoforge_sse_streams_closed_total 1\n"))
        }
    }

    /// Four processes appending 500 events each at once: an open stream receives seqs 1...2000 exactly once,
    /// in order.
    @Test(.timeLimit(.minutes(3))) func concurrentAppendersFromFourProcessesStreamInOrder() async throws {
        try await withServe("writers") { ws, server in
            let id = try await offPool { try ws.createTask() }
            let client = try await offPool { try SSEClient(port: server.port, "/api/tasks/\(id)/events/stream") }
            defer { client.close() }
            let writers = (0..<4).map { w in
                Task { try await offPool { try ws.append(id, type: "log", message: "w\(w)", count: 500) } }
            }
            let seqs = try await offPool { () -> [Int] in
                var seqs: [Int] = []
                while seqs.count < 2000, let frame = try client.next(timeout: 60) { seqs.append(frame.seq ?? -1) }
                return seqs
            }
            for writer in writers { _ = try await writer.value }
            #expect(seqs == Array(1...2000))
            let page = try await offPool { try server.request("GET", "/api/tasks/\(id)/events?from=1&limit=10000") }
            let body = try JSONValue.parse(page.text)
            #expect(body.int("next") == 2001)
        }
    }
}

extension ServeTests {
    /// SIGTERM while five clients have stopped reading in the middle of a 2 MB replay (their output cannot
    /// drain): the process still exits 0 within 2 s, and a reading client sees the clean end.
    @Test(.timeLimit(.minutes(2))) func sigtermWithPausedReadersStillExitsWithinTwoSeconds() async throws {
        let ws = try ServeWorkspace("sigterm-paused")
        defer { ws.remove() }
        let id = try await offPool { () -> String in
            let id = try ws.createTask()
            try ws.append(id, type: "log", message: String(repeating: "q", count: 2000), count: 1000)
            return id
        }
        let server = try await ServeProcess.start(ws)
        defer { server.killIfRunning() }
        let port = server.port
        let paused = try await offPool { () -> [RawHTTPConnection] in
            try (0..<5).map { _ in
                let connection = try RawHTTPConnection(port: port, receiveBuffer: 4096)
                try connection.sendRequest("GET", "/api/tasks/\(id)/events/stream")
                _ = try connection.readHead()
                return connection
            }
        }
        defer { for connection in paused { connection.close() } }
        let reader = try await offPool { () -> SSEClient in
            let client = try SSEClient(port: port, "/api/tasks/\(id)/events/stream?from=1000")
            _ = try client.next(timeout: 5)
            return client
        }
        defer { reader.close() }
        #expect(try await server.waitForHealth(timeout: 5) { $0.int("activeStreams") == 6 } != nil)
        let stop = try await server.terminate()
        #expect(stop.status == 0)
        #expect(stop.seconds < 2.0)
        let rest = try await offPool { try reader.readToEnd(timeout: 5) }
        #expect(rest.isEmpty)
        #expect(reader.endedCleanly)
        print("SIGTERM with 5 paused readers: exit \(stop.status) after \(Int(stop.seconds * 1000)) ms")
    }

    /// `logs --follow` ends (exit 2, "No task ...") when the task's folder is deleted, instead of waiting
    /// forever; on a task that ends FAILED it exits 1.
    @Test(.timeLimit(.minutes(1))) func logsFollowEndsWhenTaskIsDeletedOrFails() async throws {
        let ws = try ServeWorkspace("follow-end")
        defer { ws.remove() }
        let (gone, failing) = try await offPool { () -> (String, String) in
            let gone = try ws.createTask()
            try ws.append(gone, type: "log", message: "first")
            let failing = try ws.createTask()
            return (gone, failing)
        }
        for (id, action, status, text) in [
            (gone, "delete", Int32(2), "No task \(gone)"), (failing, "FAILED", Int32(1), "task \(failing) FAILED"),
        ] {
            let follower = try CommandRunner.start(
                CommandRunner.demoforgeBinary, ["--workspace", ws.root.path, "logs", id, "--follow"])
            defer {
                if follower.isRunning {
                    kill(follower.processIdentifier, SIGKILL)
                    follower.waitUntilExit()
                }
            }
            let out = LineSource(follower.standardOutput as! Pipe)
            let err = LineSource(follower.standardError as! Pipe)
            try await offPool { try ws.append(id, type: "log", message: "ready") }
            let ready = try await offPool { out.waitFor("ready") }
            #expect(ready != nil)
            if action == "delete" {
                try FileManager.default.removeItem(at: ws.taskFolder(id))
            } else {
                try await offPool { try ws.setState(id, action) }
            }
            let errText = try await offPool { () -> String in
                var lines: [String] = []
                while let line = err.next() { lines.append(line) }
                return lines.joined(separator: "\n")
            }
            try await offPool { follower.waitUntilExit() }
            #expect(follower.terminationStatus == status, "\(action): \(errText)")
            #expect(errText.contains(text), "\(action): \(errText)")
        }
    }
}

extension ServeTests {
    /// SIGTERM the moment the URL line appears (a supervisor stopping a server it saw ready): a clean exit 0
    /// every time, never death by the signal's default action. 20 rounds.
    @Test(.timeLimit(.minutes(2))) func sigtermRightAfterTheURLLineExitsZero() async throws {
        let ws = try ServeWorkspace("early-term")
        defer { ws.remove() }
        var statuses: [Int32] = []
        for _ in 0..<20 {
            let server = try await ServeProcess.start(ws)
            defer { server.killIfRunning() }
            statuses.append(try await server.terminate(timeout: 5).status)
        }
        #expect(
            statuses == Array(repeating: 0, count: 20),
            "exit statuses (-15: killed by SIGTERM, -999: ignored it): \(statuses)")
    }
}
