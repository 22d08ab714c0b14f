import DemoForgeHTTP
import DemoForgeTesting
import Foundation
import Testing

extension ServerTests {
    @Test func headOnAStreamRouteAnswersHeadersOnly() async throws {
        try await withServer { server, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "HEAD", "/stream/acme") }
            #expect(response.status == 200)
            #expect(response.head["Content-Type"] == "text/event-stream")
            #expect(response.body.isEmpty)
            #expect(server.metrics.streamsOpened == 0)
        }
    }

    @Test func shutdownAnswersRequestsStillInTheirHandlersWith503() async throws {
        let (gate, open) = AsyncStream<Void>.makeStream()
        let entered = Box<Bool?>(nil)
        var router = Router()
        router.get("/slow") { _ in
            entered.set(true)
            for await _ in gate {}
            return .text("late")
        }
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        let server = HTTPServer(configuration: config, router: router)
        let port = try await server.start()
        let connection = try RawHTTPConnection(port: port)
        defer { connection.close() }
        try connection.sendRequest("GET", "/slow")
        #expect(await waitForValue(entered) != nil)
        await server.shutdown()
        open.finish()  // the handler returns after shutdown; its answer is dropped
        let response = try await offPool { try connection.readResponse() }
        #expect(response.status == 503)
        #expect(errorBody(response)?.code == "shutting_down")
        #expect(server.metrics.requestsInFlight == 0)
    }

    @Test func producerSeesShutdownAndStreamsEndCleanlyAfterQueuedEvents() async throws {
        let producerDone = Box<SSECloseReason?>(nil)
        var router = Router()
        router.get("/s") { _ in
            .eventStream(key: "t") { stream in
                // Runs until cancelled by the stream's close; a `for await` over a subscription ends the same way.
                let (events, continuation) = AsyncStream<Int>.makeStream()
                stream.onClose { _ in continuation.finish() }
                continuation.yield(1)
                for await n in events { stream.send(id: String(n), data: "n=\(n)") }
                producerDone.set(stream.closeReason)
            }
        }
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        let server = HTTPServer(configuration: config, router: router)
        let port = try await server.start()
        let connection = try RawHTTPConnection(port: port)
        defer { connection.close() }
        try connection.sendRequest("GET", "/s")
        let text = try await offPool { () -> String in
            _ = try connection.readHead()
            return try connection.readStream { $0.hasSuffix("\n\n") }
        }
        #expect(text == "id: 1\ndata: n=1\n\n")
        await server.shutdown()
        let clean = try await offPool { try connection.readToEndOfStream() }
        #expect(clean)
        #expect(await waitForValue(producerDone) != nil)
        #expect(producerDone.get() == .shutdown)
    }
}
