import DemoForgeHTTP
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

extension ServerTests {
    @Test func thousandConnectDisconnectCyclesLeaveNothingBehind() async throws {
        try await withServer { server, port in
            let baselineAll = openDescriptorCount()
            let baselinePort = socketDescriptors(port: port)
            try await offPool {
                for _ in 0..<1000 {
                    let connection = try RawHTTPConnection(port: port)
                    try connection.sendRequest("GET", "/stream/cycle")
                    _ = try connection.readHead()
                    _ = try connection.readStream { $0.hasSuffix("\n\n") }
                    connection.close()
                }
            }
            let released = await waitForStreams(server, active: 0)
            #expect(released != nil)
            #expect(server.metrics.streamsOpened == 1000)
            #expect(server.metrics.streamsClosed == 1000)
            #expect(server.metrics.activeStreams == 0)
            #expect(server.metrics.liveTimers == 0)
            #expect(await waitForSockets(port: port, count: baselinePort) != nil)
            #expect(abs(openDescriptorCount() - baselineAll) <= 2)
        }
    }

    @Test func fiftyCleanClosesAndFiftyKilledClientsAllReleasedWithinOneSecond() async throws {
        try await withServer { server, port in
            let raw = try await offPool { () -> [RawHTTPConnection] in
                try (0..<50).map { _ in
                    let c = try RawHTTPConnection(port: port)
                    try c.sendRequest("GET", "/stream/mixed")
                    _ = try c.readHead()
                    return c
                }
            }
            var curls: [Process] = []
            defer {
                for p in curls where p.isRunning { kill(p.processIdentifier, SIGKILL) }
                for p in curls { p.waitUntilExit() }
            }
            for _ in 0..<50 {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                p.arguments = ["-sN", "http://127.0.0.1:\(port)/stream/mixed"]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                curls.append(p)
            }
            #expect(await waitForStreams(server, active: 100, timeout: 20) != nil)
            let start = monotonicSeconds()
            for p in curls { kill(p.processIdentifier, SIGKILL) }
            for c in raw { c.close() }
            let elapsed = await waitForStreams(server, active: 0)
            #expect(elapsed != nil)
            #expect((elapsed ?? 99) < 1.0)
            #expect(server.metrics.streamsClosed == 100)
            print("100 streams (50 closed, 50 SIGKILLed) released in \(Int((monotonicSeconds() - start) * 1000)) ms")
        }
    }

    @Test func pausedReaderIsDroppedOnceItsBufferPassesTheCap() async throws {
        let reason = Box<SSECloseReason?>(nil)
        let sentBytes = Box(0)
        var router = Router()
        router.get("/firehose") { _ in
            .eventStream(key: "hose") { stream in
                let payload = String(repeating: "x", count: 16 * 1024)
                var i = 0
                while stream.send(id: String(i), data: payload) {
                    i += 1
                    sentBytes.update { $0 += payload.utf8.count }
                    try? await Task.sleep(for: .milliseconds(1))
                }
                reason.set(await stream.closed())
            }
        }
        try await withServer(
            router: router,
            configuration: testConfiguration { config in
                config.heartbeatSeconds = 2
                config.streamOutputCapBytes = 1 << 20
            }
        ) { server, port in
            let connection = try await offPool { () -> RawHTTPConnection in
                let c = try RawHTTPConnection(port: port, receiveBuffer: 4096)
                try c.sendRequest("GET", "/firehose")
                _ = try c.readHead()
                return c  // and never read again
            }
            defer { connection.close() }
            let dropped = await waitForValue(reason, timeout: 30)
            #expect(dropped != nil)
            #expect(reason.get() == .slowReader)
            #expect(server.metrics.streamsDroppedSlow == 1)
            #expect(server.metrics.activeStreams == 0)
            #expect(server.metrics.liveTimers == 0)
            #expect(sentBytes.get() > 1 << 20)
            print("paused reader dropped after \(sentBytes.get()) bytes produced, \(dropped ?? -1) s")
        }
    }

    @Test func streamOutlivesTheConnectionTimeoutWithHeartbeats() async throws {
        try await withServer(
            configuration: testConfiguration { config in
                config.heartbeatSeconds = 0.5
                config.connectionTimeoutSeconds = 1  // becomes 2 s (3 heartbeats, rounded up)
            }
        ) { server, port in
            let beats = try await offPool { () -> Int in
                let c = try RawHTTPConnection(port: port)
                defer { c.close() }
                try c.sendRequest("GET", "/stream/long")
                _ = try c.readHead()
                let text = try c.readStream(timeout: 8) { $0.components(separatedBy: ": heartbeat").count > 8 }
                return text.components(separatedBy: ": heartbeat").count - 1
            }
            #expect(beats == 8)
            #expect(server.metrics.streamsDroppedSlow == 0)
        }
    }

    @Test func shutdownWith500OpenStreamsEndsEveryStreamWithinTwoSeconds() async throws {
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        let closeReasons = Box<[SSECloseReason]>([])
        var router = TestRoutes.router()
        router.get("/held/{n}") { _ in
            .eventStream(key: nil) { stream in
                stream.send(data: "open")
                let reason = await stream.closed()
                closeReasons.update { $0.append(reason) }
            }
        }
        let server = HTTPServer(configuration: config, router: router)
        let port = try await server.start()
        let connections = try await offPool { () -> [RawHTTPConnection] in
            let all = try (0..<500).map { i in
                let c = try RawHTTPConnection(port: port)
                try c.sendRequest("GET", "/held/\(i)")
                return c
            }
            for c in all {
                _ = try c.readHead()
                _ = try c.readStream { $0.hasSuffix("\n\n") }
            }
            return all
        }
        #expect(server.metrics.activeStreams == 500)
        let start = monotonicSeconds()
        await server.shutdown()
        let elapsed = monotonicSeconds() - start
        #expect(elapsed < 2)
        let cleanEnds = try await offPool { try connections.filter { try $0.readToEndOfStream() }.count }
        for c in connections { c.close() }
        #expect(cleanEnds == 500)
        #expect(server.metrics.activeStreams == 0)
        #expect(server.metrics.liveTimers == 0)
        #expect(await waitForCount(closeReasons, 500) != nil)
        #expect(closeReasons.get().filter { $0 == .shutdown }.count == 500)
        print("shutdown with 500 streams took \(Int(elapsed * 1000)) ms")
    }
}

extension ServerTests {
    /// A peer that takes no more data (zero window) while its unsent output stays under the cap is released by
    /// the write timeout of two heartbeats, not kept forever.
    @Test func stalledPeerUnderTheCapIsReleasedWithinTwoHeartbeats() async throws {
        let reason = Box<SSECloseReason?>(nil)
        let lastSend = Box<Double?>(nil)
        var router = Router()
        router.get("/burst") { _ in
            .eventStream(key: nil) { stream in
                let event = SSEEvent(data: String(repeating: "y", count: 64 * 1024))
                for _ in 0..<128 { stream.send(event) }  // 8 MiB, then silence
                lastSend.set(monotonicSeconds())
                reason.set(await stream.closed())
            }
        }
        try await withServer(
            router: router,
            configuration: testConfiguration { config in
                config.heartbeatSeconds = 1
                config.streamOutputCapBytes = 64 << 20
            }
        ) { server, port in
            let connection = try await offPool { () -> RawHTTPConnection in
                let c = try RawHTTPConnection(port: port, receiveBuffer: 4096)
                try c.sendRequest("GET", "/burst")
                _ = try c.readHead()
                return c  // never read again
            }
            defer { connection.close() }
            #expect(await waitForValue(reason, timeout: 10) != nil)
            let releasedAfter = monotonicSeconds() - (lastSend.get() ?? 0)
            #expect(reason.get() == .peerClosed)
            #expect(releasedAfter < 2.5)  // two heartbeats of 1 s, plus scheduling slack
            #expect(server.metrics.activeStreams == 0)
            #expect(server.metrics.liveTimers == 0)
            print("stalled peer released \(Int(releasedAfter * 1000)) ms after the last send")
        }
    }
}
