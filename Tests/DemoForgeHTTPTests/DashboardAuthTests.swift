import DemoForgeHTTP
import DemoForgeTesting
import Foundation
import Testing

@Suite struct DashboardAuthTests {
    /// With a token, the page itself loads (it asks for the token), and nothing else does.
    @Test func dashboardFilesNeedNoTokenButEverythingElseDoes() async throws {
        var router = TestRoutes.router()
        router.addDashboard()
        try await withServer(router: router, configuration: testConfiguration { $0.token = "s3cret" }) { _, port in
            let page = try await offPool { try rawHTTPRequest(port: port, "GET", "/") }
            #expect(page.status == 200)
            let script = try await offPool { try rawHTTPRequest(port: port, "GET", "/dashboard/app.js") }
            #expect(script.status == 200)
            let api = try await offPool { try rawHTTPRequest(port: port, "GET", "/api/hello") }
            #expect(api.status == 401)
            let escape = try await offPool { try rawHTTPRequest(port: port, "GET", "/dashboard/..%2F..%2Fetc%2Fpasswd") }
            #expect(escape.status == 400)
            let post = try await offPool { try rawHTTPRequest(port: port, "POST", "/", body: Array("x".utf8)) }
            #expect(post.status == 401)
        }
    }
}
