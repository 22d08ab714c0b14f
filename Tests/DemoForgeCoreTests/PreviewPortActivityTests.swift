#if canImport(Glibc)
import Glibc
#endif
@testable import DemoForgeCore
import DemoForgeTesting
import Foundation
import Testing

/// `PortActivity` (open connections count as use of a preview), on ports chosen by bind(0).
@Suite(.timeLimit(.minutes(1)))
struct PreviewPortActivityTests {
    /// /proc/net/tcp is read to its end: with hundreds of other sockets the connection's line is far down the
    /// file (a single read of a /proc file returns only its first page).
    @Test func findsAnEstablishedConnectionAmongManySockets() async throws {
        let crowd = try (0..<400).map { _ in try TestListener(address: "127.0.0.1", port: 0) }
        defer { for listener in crowd { listener.close() } }
        let target = try TestListener(address: "127.0.0.1", port: 0)
        defer { target.close() }
        #expect(!PortActivity.hasOpenConnections(port: target.port))
        let connection = try RawHTTPConnection(port: target.port)
        #expect(PortActivity.hasOpenConnections(port: target.port))
        connection.close()
    }

    @Test func parsesStateAndBothEnds() {
        let established = "   7: 0100007F:1F91 0100007F:C3A2 01 00000000:00000000 00:00000000 00000000     0        0 1 1"
        let listening = "   8: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1"
        #expect(PortActivity.isEstablished(Substring(established), port: 8081))
        #expect(PortActivity.isEstablished(Substring(established), port: 0xC3A2))
        #expect(!PortActivity.isEstablished(Substring(established), port: 8082))
        #expect(!PortActivity.isEstablished(Substring(listening), port: 8081))
    }
}
