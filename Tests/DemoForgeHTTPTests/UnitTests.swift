import Testing

@testable import DemoForgeHTTP

@Suite("HTTP pieces without a server")
struct UnitTests {
    @Test func slugRule() {
        #expect(IdentifierRule.slug.matches("acme-plumbing"))
        #expect(IdentifierRule.slug.matches("a"))
        #expect(IdentifierRule.slug.matches(String(repeating: "a", count: 63)))
        #expect(!IdentifierRule.slug.matches(String(repeating: "a", count: 64)))
        #expect(!IdentifierRule.slug.matches("-acme"))
        #expect(!IdentifierRule.slug.matches("Acme"))
        #expect(!IdentifierRule.slug.matches("../etc"))
        #expect(!IdentifierRule.slug.matches("../../x"))
        #expect(!IdentifierRule.slug.matches(""))
        #expect(!IdentifierRule.fileName.matches(".."))
        #expect(!IdentifierRule.fileName.matches("a..b"))
        #expect(IdentifierRule.fileName.matches("desktop.png"))
    }

    @Test func targetParsingDecodesSegmentsWithoutSplittingOnEncodedSlash() throws {
        let parsed = try PercentDecoding.parseTarget("/api/tasks/..%2F..%2Fx/events?from=5&q=a+b%21")
        #expect(parsed.segments == ["api", "tasks", "../../x", "events"])
        #expect(parsed.path == "/api/tasks/..%2F..%2Fx/events")
        #expect(parsed.query.map(\.name) == ["from", "q"])
        #expect(parsed.query.map(\.value) == ["5", "a b!"])
        #expect(try PercentDecoding.parseTarget("/").segments == [])
        #expect(throws: HTTPError.self) { try PercentDecoding.parseTarget("/a%zz") }
        #expect(throws: HTTPError.self) { try PercentDecoding.parseTarget("/a%ff") }  // not UTF-8
    }

    @Test func routerMatchesCapturesAndReports405() {
        var router = Router()
        router.get("/api/tasks/{id}/events/stream") { _ in .text("s") }
        router.post("/api/tasks/{id}/cancel") { _ in .text("c") }
        if case .found(_, let params) = router.match(.get, ["api", "tasks", "t1", "events", "stream"]) {
            #expect(params == ["id": "t1"])
        } else {
            Issue.record("expected a match")
        }
        if case .methodNotAllowed(let allowed) = router.match(.get, ["api", "tasks", "t1", "cancel"]) {
            #expect(allowed == [.post])
        } else {
            Issue.record("expected 405")
        }
        if case .notFound = router.match(.get, ["api", "nope"]) {} else { Issue.record("expected 404") }
    }

    @Test func sseFramingSplitsMultiLineData() {
        let event = SSEEvent(id: "7", event: "log", data: "a\nb\r\nc\rd")
        #expect(
            String(decoding: event.encoded, as: UTF8.self)
                == "id: 7\nevent: log\ndata: a\ndata: b\ndata: c\ndata: d\n\n")
        let sneaky = SSEEvent(id: "1\n2", event: "x\ny", data: "")
        #expect(String(decoding: sneaky.encoded, as: UTF8.self) == "id: 12\nevent: xy\ndata: \n\n")
        #expect(String(decoding: SSEEvent.comment("heartbeat"), as: UTF8.self) == ": heartbeat\n\n")
    }

    @Test func errorBodyIsEscapedJSON() {
        let error = HTTPError(status: 400, code: .invalidIdentifier, message: "bad \"id\"\n")
        #expect(
            String(decoding: error.jsonBody, as: UTF8.self)
                == "{\"error\":{\"code\":\"invalid_identifier\",\"message\":\"bad \\\"id\\\"\\n\"}}")
    }

    @Test func prometheusText() {
        var text = PrometheusText()
        text.gauge("demo_active", help: "Active.", value: 3)
        text.family(
            "demo_requests_total", help: "By status.", type: .counter,
            samples: [(labels: ["status": "200"], value: 5), (labels: ["status": "404"], value: 1)])
        #expect(
            text.text == """
                # HELP demo_active Active.
                # TYPE demo_active gauge
                demo_active 3
                # HELP demo_requests_total By status.
                # TYPE demo_requests_total counter
                demo_requests_total{status="200"} 5
                demo_requests_total{status="404"} 1

                """)
    }

    @Test func loopbackHosts() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"] {
            #expect(BindAddress.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "192.168.1.5", "128.0.0.1", "example.com", "::2"] {
            #expect(!BindAddress.isLoopback(host), "\(host)")
        }
    }

    @Test func tokenCheckAcceptsBearerAndCookieOnly() {
        let check = TokenCheck(token: Array("s3cret".utf8))
        #expect(check.allows(["Authorization": "Bearer s3cret"]))
        #expect(check.allows(["Cookie": "theme=dark; demoforge_token=s3cret"]))
        #expect(!check.allows(["Authorization": "Bearer s3cre"]))
        #expect(!check.allows(["Authorization": "Bearer s3cretX"]))
        #expect(!check.allows(["Authorization": "Basic s3cret"]))
        #expect(!check.allows(["Cookie": "demoforge_token=nope"]))
        #expect(!check.allows([:]))
    }
}
