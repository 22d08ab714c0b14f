#if canImport(Glibc)
import Glibc
#endif
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// The built-in static server of previews, `demoforge __static --root DIR --port 0`, as a real process.
@Suite(.timeLimit(.minutes(1)))
struct StaticServerTests {
    /// A running `demoforge __static` over a folder with a few files, a sub-folder and two escaping symlinks.
    final class Server: @unchecked Sendable {
        let folder = TemporaryFolder("static")
        var root: URL { folder.url.appendingPathComponent("public") }
        let process: Process
        let port: Int

        static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52]

        init() async throws {
            let root = folder.url.appendingPathComponent("public")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("about"), withIntermediateDirectories: true)
            let files: [String: [UInt8]] = [
                "index.html": Array("<!doctype html><title>home</title>home".utf8),
                "styles.css": Array("body { color: red }".utf8),
                "script.js": Array("console.log(1);".utf8),
                "logo.png": Self.png,
                "icon.svg": Array(#"<svg xmlns="http://www.w3.org/2000/svg"/>"#.utf8),
                "about/index.html": Array("<!doctype html><title>about</title>about".utf8),
            ]
            for (name, bytes) in files { try Data(bytes).write(to: root.appendingPathComponent(name)) }
            try Data("TOP-SECRET-CONTENT".utf8).write(to: folder.url.appendingPathComponent("secret.txt"))
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("leak.txt").path, withDestinationPath: "../secret.txt")
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("up").path, withDestinationPath: "..")
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("passwd").path, withDestinationPath: "/etc/passwd")
            process = try CommandRunner.start(CommandRunner.demoforgeBinary, ["__static", "--root", root.path, "--port", "0"])
            let lines = LineSource(process.standardOutput as! Pipe)
            let line = try await offPool { lines.waitFor("Serving ") } ?? ""
            guard let match = line.firstMatch(of: /http:\/\/127\.0\.0\.1:(\d+)\//), let port = Int(match.1) else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                folder.remove()
                throw RawHTTPError("__static did not report its port: '\(line)'")
            }
            self.port = port
        }

        func get(_ target: String) async throws -> RawHTTPResponse {
            let port = self.port
            return try await offPool {
                let connection = try RawHTTPConnection(port: port)
                defer { connection.close() }
                try connection.sendRequest("GET", target, headers: [("Connection", "close")])
                return try connection.readResponse()
            }
        }

        /// SIGTERM, then waits for the exit; removes the folder.
        func stop() async throws -> Int32 {
            let process = self.process
            kill(process.processIdentifier, SIGTERM)
            let status = try await offPool { () -> Int32 in
                let deadline = monotonicSeconds() + 10
                while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                return process.terminationStatus
            }
            folder.remove()
            return status
        }
    }

    @Test func servesFilesWithTheirContentTypes() async throws {
        let server = try await Server()
        do {
            let cases: [(String, String, [UInt8])] = [
                ("/index.html", "text/html; charset=utf-8", Array("<!doctype html><title>home</title>home".utf8)),
                ("/styles.css", "text/css; charset=utf-8", Array("body { color: red }".utf8)),
                ("/script.js", "text/javascript; charset=utf-8", Array("console.log(1);".utf8)),
                ("/logo.png", "image/png", Server.png),
                ("/icon.svg", "image/svg+xml", Array(#"<svg xmlns="http://www.w3.org/2000/svg"/>"#.utf8)),
            ]
            for (target, type, body) in cases {
                let response = try await server.get(target)
                #expect(response.status == 200, "\(target)")
                #expect(response.head["Content-Type"] == type, "\(target)")
                #expect(response.body == body, "\(target)")
            }
        } catch {
            _ = try? await server.stop()
            throw error
        }
        #expect(try await server.stop() == 0)
    }

    @Test func foldersAnswerWithTheirIndexAndMissingFilesWith404() async throws {
        let server = try await Server()
        do {
            for target in ["/", "/about/"] {
                let response = try await server.get(target)
                #expect(response.status == 200, "\(target)")
                #expect(response.head["Content-Type"] == "text/html; charset=utf-8", "\(target)")
                #expect(response.text == (target == "/" ? "<!doctype html><title>home</title>home" : "<!doctype html><title>about</title>about"))
            }
            // A folder without its slash is sent to it, so that its page's relative links stay in the folder.
            let redirect = try await server.get("/about")
            #expect(redirect.status == 301)
            #expect(redirect.head["Location"] == "/about/")
            for target in ["/missing.html", "/about/missing.css", "/nothing/"] {
                #expect(try await server.get(target).status == 404, "\(target)")
            }
        } catch {
            _ = try? await server.stop()
            throw error
        }
        #expect(try await server.stop() == 0)
    }

    @Test func dotDotIsABadRequestAndSymlinksOutOfTheRootAreNotFound() async throws {
        let server = try await Server()
        do {
            for target in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/about/../../secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt"] {
                let response = try await server.get(target)
                #expect(response.status == 400, "\(target)")
                #expect(!response.text.contains("root:"), "\(target)")
                #expect(!response.text.contains("TOP-SECRET"), "\(target)")
            }
            for target in ["/leak.txt", "/up/secret.txt", "/passwd", "/up/public/leak.txt"] {
                let response = try await server.get(target)
                #expect(response.status == 404, "\(target)")
                #expect(!response.text.contains("root:"), "\(target)")
                #expect(!response.text.contains("TOP-SECRET"), "\(target)")
            }
            // A link that stays inside the root is followed.
            #expect(try await server.get("/up/public/styles.css").text == "body { color: red }")
        } catch {
            _ = try? await server.stop()
            throw error
        }
        #expect(try await server.stop() == 0)
    }

    /// Only a real "address in use" may say so: previews retry on another port when the log says it.
    @Test func startFailuresNameTheirOwnCause() async throws {
        let folder = TemporaryFolder("static-fail")
        defer { folder.remove() }
        let refused = try await offPool {
            try CommandRunner.run(CommandRunner.demoforgeBinary, ["__static", "--root", folder.path, "--port", "0", "--host", "10.255.255.1"])
        }
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing to listen on non-loopback host '10.255.255.1'"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("EADDRINUSE"), "\(refused.stderr)")
        #expect(!refused.stderr.lowercased().contains("address already in use"), "\(refused.stderr)")

        let busy = try TestListener(address: "127.0.0.1", port: 0)
        defer { busy.close() }
        let taken = try await offPool {
            try CommandRunner.run(CommandRunner.demoforgeBinary, ["__static", "--root", folder.path, "--port", String(busy.port)])
        }
        #expect(taken.status == 1)
        #expect(taken.stderr.contains("127.0.0.1:\(busy.port): Address already in use"), "\(taken.stderr)")
    }
}
