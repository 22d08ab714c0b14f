import DemoForgeHTTP
import DemoForgeTesting
import Foundation
import Testing

/// Every test that runs a server: serialized, so that descriptor counts and timings are not disturbed by
/// the other server tests.
@Suite("HTTP server", .serialized, .timeLimit(.minutes(1)))
struct ServerTests {
    @Test func jsonRouteAnswers() async throws {
        try await withServer { _, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/hello") }
            #expect(response.status == 200)
            #expect(response.head["Content-Type"] == "application/json")
            #expect(response.text == "{\"hello\":\"world\"}")
        }
    }

    @Test func unknownPathIs404JSON() async throws {
        try await withServer { server, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/nope") }
            #expect(response.status == 404)
            #expect(response.head["Content-Type"] == "application/json")
            #expect(errorBody(response)?.code == "not_found")
            #expect(errorBody(response)?.message == "no route for GET /api/nope")
            #expect(server.metrics.requestsByStatus[404] == 1)
        }
    }

    @Test func wrongMethodIs405JSON() async throws {
        try await withServer { _, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "DELETE", "/api/hello") }
            #expect(response.status == 405)
            #expect(response.head["Allow"] == "GET")
            #expect(errorBody(response)?.code == "method_not_allowed")
        }
    }

    @Test func bodyOverOneMiBIs413JSON() async throws {
        try await withServer { _, port in
            let atLimit = try await offPool {
                try rawHTTPRequest(port: port, "POST", "/api/echo", body: [UInt8](repeating: 65, count: 1 << 20))
            }
            #expect(atLimit.status == 200)
            #expect(atLimit.text == "{\"bytes\":1048576}")
            let over = try await offPool {
                try rawHTTPRequest(port: port, "POST", "/api/echo", body: [UInt8](repeating: 65, count: (1 << 20) + 1))
            }
            #expect(over.status == 413)
            #expect(errorBody(over)?.code == "payload_too_large")
            #expect(errorBody(over)?.message == "request body of 1048577 bytes is over the limit of 1048576 bytes")
        }
    }

    @Test func encodedTraversalIdentifierIs400JSON() async throws {
        try await withServer { _, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/tasks/..%2F..%2Fx") }
            #expect(response.status == 400)
            #expect(errorBody(response)?.code == "invalid_identifier")
            #expect(
                errorBody(response)?.message
                    == "path parameter 'id' '../../x' is not a valid slug (must match ^[a-z0-9][a-z0-9-]{0,62}$)")
            let slug = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/tasks/..%2Fetc") }
            #expect(slug.status == 400)
            let good = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/tasks/acme-1") }
            #expect(good.text == "{\"id\":\"acme-1\"}")
        }
    }

    @Test func thrownErrorIs500WithoutInternals() async throws {
        let logged = Box<[String]>([])
        try await withServer(
            configuration: testConfiguration { config in config.log = { line in logged.update { $0.append(line) } } }
        ) {
            _, port in
            let response = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/boom") }
            #expect(response.status == 500)
            #expect(errorBody(response)?.code == "internal_error")
            #expect(!response.text.contains("hunter2"))
            #expect(logged.get().count == 1)
            #expect(logged.get().first?.contains("GET /api/boom failed") == true)
            let conflict = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/conflict") }
            #expect(conflict.status == 409)
            #expect(errorBody(conflict)?.message == "task 'x' is DONE")
        }
    }

    @Test func nonLoopbackWithoutTokenRefusesToStart() async throws {
        for host in ["0.0.0.0", "::", "192.0.2.10"] {
            var config = HTTPServerConfiguration()
            config.host = host
            config.port = 0
            let server = HTTPServer(configuration: config, router: Router())
            do {
                try await server.start()
                Issue.record("\(host): started without a token")
                await server.shutdown()
            } catch {
                #expect(error.code == .tokenRequired)
                #expect(error.message.contains("'\(host)'"))
                #expect(error.message.contains("server.token"))
            }
        }
    }

    @Test func tokenRequiresBearerOrCookie() async throws {
        try await withServer(configuration: testConfiguration { $0.token = "s3cret" }) { _, port in
            let missing = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/hello") }
            #expect(missing.status == 401)
            #expect(errorBody(missing)?.code == "unauthorized")
            let wrong = try await offPool {
                try rawHTTPRequest(port: port, "GET", "/api/hello", headers: [("Authorization", "Bearer s3cre")])
            }
            #expect(wrong.status == 401)
            let stream = try await offPool { try rawHTTPRequest(port: port, "GET", "/stream/a") }
            #expect(stream.status == 401)
            let bearer = try await offPool {
                try rawHTTPRequest(port: port, "GET", "/api/hello", headers: [("Authorization", "Bearer s3cret")])
            }
            #expect(bearer.status == 200)
            let cookie = try await offPool {
                try rawHTTPRequest(port: port, "GET", "/api/hello", headers: [("Cookie", "demoforge_token=s3cret")])
            }
            #expect(cookie.status == 200)
        }
    }

    @Test func dashboardIsServed() async throws {
        var router = Router()
        router.addDashboard()
        try await withServer(router: router) { _, port in
            let index = try await offPool { try rawHTTPRequest(port: port, "GET", "/") }
            #expect(index.status == 200)
            #expect(index.head["Content-Type"] == "text/html; charset=utf-8")
            #expect(!index.body.isEmpty)
            let missing = try await offPool { try rawHTTPRequest(port: port, "GET", "/dashboard/nope.js") }
            #expect(missing.status == 404)
            let traversal = try await offPool { try rawHTTPRequest(port: port, "GET", "/dashboard/..%2Fx") }
            #expect(traversal.status == 400)
        }
    }

    @Test func portZeroReportsBoundPortAndShutdownIsIdempotent() async throws {
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        let server = HTTPServer(configuration: config, router: TestRoutes.router())
        let port = try await server.start()
        #expect(port > 0)
        #expect(await server.port == port)
        await server.shutdown()
        await server.shutdown()
        #expect(throws: RawHTTPError.self) { try rawHTTPRequest(port: port, "GET", "/api/hello") }
    }
}

extension ServerTests {
    @Test func metricsRouteRendersPrometheusText() async throws {
        let metrics = HTTPMetrics()
        var router = TestRoutes.router()
        router.get("/metrics") { _ in
            var text = PrometheusText()
            metrics.render(into: &text)
            return .text(text.text, contentType: PrometheusText.contentType)
        }
        var config = HTTPServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        let server = HTTPServer(configuration: config, router: router, metrics: metrics)
        let port = try await server.start()
        let response = try await offPool { () -> RawHTTPResponse in
            _ = try rawHTTPRequest(port: port, "GET", "/api/nope")
            _ = try rawHTTPRequest(port: port, "GET", "/api/hello")
            return try rawHTTPRequest(port: port, "GET", "/metrics")
        }
        await server.shutdown()
        #expect(response.head["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.text.contains("demoforge_sse_active_streams 0\n"))
        #expect(response.text.contains("demoforge_sse_live_timers 0\n"))
        #expect(response.text.contains("demoforge_http_requests_total{status=\"200\"} 1\n"))
        #expect(response.text.contains("demoforge_http_requests_total{status=\"404\"} 1\n"))
    }
}

extension ServerTests {
    @Test func portInUseFailsWithAClearError() async throws {
        try await withServer { _, port in
            let second = HTTPServer(configuration: testConfiguration { $0.port = port }, router: Router())
            do {
                try await second.start()
                Issue.record("a second server bound port \(port)")
                await second.shutdown()
            } catch let error as HTTPServerError {
                #expect(error.code == .bindFailed)
                #expect(
                    error.message
                        == "cannot listen on server.host:server.port 127.0.0.1:\(port): Address already in use")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }
}

extension ServerTests {
    @Test func headersOver64KiBAreRefused() async throws {
        try await withServer { _, port in
            let big = String(repeating: "a", count: 70 * 1024)
            let response = try await offPool {
                try rawHTTPRequest(port: port, "GET", "/api/hello", headers: [("X-Big", big)])
            }
            #expect(response.status == 400)  // evhttp's own answer (HTML), before any route runs
            let normal = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/hello") }
            #expect(normal.status == 200)
        }
    }
}
