import DemoForgeHTTP
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

extension ServerTests {
    @Test func sseHeadersAndFirstEventWithin200msDespiteAcceptEncoding() async throws {
        try await withServer { server, port in
            let (head, text, elapsed) = try await offPool { () -> (RawHTTPHead, String, Double) in
                let connection = try RawHTTPConnection(port: port)
                defer { connection.close() }
                let start = monotonicSeconds()
                try connection.sendRequest("GET", "/stream/acme", headers: [("Accept-Encoding", "gzip, br")])
                let head = try connection.readHead()
                let text = try connection.readStream(timeout: 2) { $0.hasSuffix("\n\n") }
                return (head, text, monotonicSeconds() - start)
            }
            #expect(head.status == 200)
            #expect(head["Content-Type"] == "text/event-stream")
            #expect(head["Cache-Control"] == "no-cache")
            #expect(head["X-Accel-Buffering"] == "no")
            #expect(head["Content-Encoding"] == nil)
            #expect(text == "id: 1\nevent: hello\ndata: first\ndata: second\n\n")
            #expect(elapsed < 0.2)
            #expect(await waitForStreams(server, active: 0) != nil)
        }
    }

    @Test func producerReturningEndsTheResponseCleanly() async throws {
        try await withServer { server, port in
            let (text, clean) = try await offPool { () -> (String, Bool) in
                let connection = try RawHTTPConnection(port: port)
                defer { connection.close() }
                try connection.sendRequest("GET", "/finite")
                _ = try connection.readHead()
                let text = try connection.readStream { $0.components(separatedBy: "\n\n").count == 4 }
                return (text, try connection.readToEndOfStream())
            }
            #expect(text == "id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n")
            #expect(clean)
            #expect(await waitForStreams(server, active: 0) != nil)
            #expect(server.metrics.streamsOpened == 1)
            #expect(server.metrics.streamsClosed == 1)
            #expect(server.metrics.eventsSent == 3)
            #expect(server.metrics.liveTimers == 0)
        }
    }

    @Test func heartbeatsArriveAndOnCloseRunsWhenPeerLeaves() async throws {
        let reason = Box<SSECloseReason?>(nil)
        var router = Router()
        router.get("/s") { _ in
            .eventStream(key: "k") { stream in
                stream.onClose { reason.set($0) }
                _ = await stream.closed()
            }
        }
        try await withServer(router: router, configuration: testConfiguration { $0.heartbeatSeconds = 0.2 }) {
            server, port in
            let text = try await offPool { () -> String in
                let connection = try RawHTTPConnection(port: port)
                defer { connection.close() }
                try connection.sendRequest("GET", "/s")
                _ = try connection.readHead()
                return try connection.readStream(timeout: 3) {
                    $0.components(separatedBy: ": heartbeat\n\n").count >= 3
                }
            }
            #expect(text.hasPrefix(": heartbeat\n\n: heartbeat\n\n"))
            #expect(await waitForValue(reason) != nil)
            #expect(reason.get() == .peerClosed)
            #expect(server.metrics.liveTimers == 0)
        }
    }

    @Test func perKeyCapAnswers503JSONForStream101() async throws {
        try await withServer(configuration: testConfiguration { $0.maxStreamsPerKey = 100 }) { server, port in
            let connections = try await offPool { () -> [RawHTTPConnection] in
                try (0..<100).map { _ in
                    let c = try RawHTTPConnection(port: port)
                    try c.sendRequest("GET", "/stream/busy")
                    return c
                }
            }
            let heads = try await offPool { try connections.map { try $0.readHead() } }
            #expect(heads.allSatisfy { $0.status == 200 })
            #expect(server.metrics.activeStreams == 100)
            let extra = try await offPool { try rawHTTPRequest(port: port, "GET", "/stream/busy") }
            #expect(extra.status == 503)
            #expect(errorBody(extra)?.code == "too_many_streams")
            #expect(errorBody(extra)?.message == "'busy' has 100 open streams, the limit sse.maxStreamsPerTask is 100")
            let otherKey = try await offPool { () -> Int in
                let c = try RawHTTPConnection(port: port)
                defer { c.close() }
                try c.sendRequest("GET", "/stream/other")
                return try c.readHead().status
            }
            #expect(otherKey == 200)
            for c in connections { c.close() }
            #expect(await waitForStreams(server, active: 0) != nil)
        }
    }

    @Test func totalCapAnswers503JSON() async throws {
        try await withServer(configuration: testConfiguration { $0.maxStreams = 5 }) { server, port in
            let connections = try await offPool { () -> [RawHTTPConnection] in
                try (0..<5).map { i in
                    let c = try RawHTTPConnection(port: port)
                    try c.sendRequest("GET", "/stream/k\(i)")
                    _ = try c.readHead()
                    return c
                }
            }
            #expect(server.metrics.activeStreams == 5)
            let extra = try await offPool { try rawHTTPRequest(port: port, "GET", "/stream/k9") }
            #expect(extra.status == 503)
            #expect(errorBody(extra)?.message == "5 streams are open, the limit sse.maxStreams is 5")
            for c in connections { c.close() }
            #expect(await waitForStreams(server, active: 0) != nil)
        }
    }
}
