import Foundation

@testable import DemoForgeCore

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny site served by a real `python3 -m http.server` on 127.0.0.1 (port chosen by the server: bind to 0).
final class SnapshotTestSite: @unchecked Sendable {
    static let pages: [String: String] = [
        "boom.html": """
        <!doctype html>
        <html>
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>boom</title></head>
        <body>
        <h1>Boom</h1>
        <p>Logs a console error, loads a missing image, throws an uncaught error.</p>
        <img src="missing.png" alt="missing">
        <script>
        console.error("boom");
        throw new Error("kaboom");
        </script>
        </body>
        </html>
        """,
        "alert.html": """
        <!doctype html>
        <html>
        <head><meta charset="utf-8"><title>alert</title></head>
        <body><h1>Alert</h1><script>alert("hi");</script></body>
        </html>
        """,
        "tall.html": """
        <!doctype html>
        <html>
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>tall</title>
        <style>body { margin: 0 } div { height: 2000px; background: linear-gradient(#08f, #f80) }</style></head>
        <body><div></div></body>
        </html>
        """,
    ]

    let folder: URL
    let process = Process()
    let port: Int

    /// Writes the pages and starts the server; returns once it printed its port (its readiness line).
    init() async throws {
        folder = try makeTempFolder("site")
        for (name, text) in Self.pages {
            try Data(text.utf8).write(to: folder.appendingPathComponent(name))
        }
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder.path, "0",
        ]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = output.fileHandleForReading
        let line = await onDedicatedThread(name: "site-readiness") { () -> String in
            var text = ""
            while !text.contains("\n") {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
        guard let match = line.firstMatch(of: /port (\d+)/), let port = Int(match.1) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: folder)
            throw SiteError(message: "http.server did not report its port: \(line)")
        }
        self.port = port
    }

    struct SiteError: Error { let message: String }

    func url(_ page: String) -> String { "http://127.0.0.1:\(port)/\(page)" }

    /// Stops the server and removes the pages.
    func stop() {
        if process.isRunning {
            // Not SIGTERM: Foundation's Process spawns with the calling thread's signal mask, in which the
            // concurrency runtime's threads may block SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Non-zombie processes whose process group is `group`, read from /proc independently of the code under test.
func liveProcesses(inGroup group: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry),
            let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == group ? pid : nil
    }
}

/// Width and height of a PNG file, from its IHDR chunk.
func pngSize(_ url: URL) throws -> (width: Int, height: Int)? {
    pngDimensions(try Data(contentsOf: url))
}
