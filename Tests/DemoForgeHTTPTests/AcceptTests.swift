import DemoForgeSystem
import DemoForgeTesting
import Testing

@testable import DemoForgeHTTP

extension ServerTests {
    /// Out of descriptors (EMFILE), libevent's listener would spin; the server pauses accepting for 100 ms
    /// instead, and connections waiting in the backlog are served once it resumes.
    @Test func acceptErrorPausesAcceptingThenResumes() async throws {
        let logged = Box<[String]>([])
        let config = testConfiguration { config in config.log = { line in logged.update { $0.append(line) } } }
        try await withServer(configuration: config) { server, port in
            await server.simulateAcceptFailure()
            let (status, elapsed) = try await offPool { () -> (Int, Double) in
                let start = monotonicSeconds()
                let response = try rawHTTPRequest(port: port, "GET", "/api/hello")
                return (response.status, monotonicSeconds() - start)
            }
            #expect(status == 200)
            #expect(elapsed >= 0.05)
            #expect(server.metrics.acceptPauses == 1)
            #expect(logged.get() == ["accept failed: Too many open files; pausing accept for 100 ms"])
        }
    }
}
