import DemoForgeTesting
import Foundation
import Testing

@Suite struct CrashSafetyTests {
    /// A `context set` paused between fsync and rename, then SIGKILLed: the target keeps the previous complete
    /// document; the next command sweeps the dead writer's temp file and nothing else.
    @Test(.timeLimit(.minutes(1))) func crashBetweenFsyncAndRenameKeepsThePreviousDocument() async throws {
        let folder = TemporaryFolder("crash")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        _ = try CommandRunner.demoforge(["client", "add", "acme", "--name", "Acme"], workspace: ws)
        let clientFolder = ws.appendingPathComponent("client-websites/acme")
        let file = clientFolder.appendingPathComponent("demo.context.json")
        let before = try String(contentsOf: file, encoding: .utf8)

        let child = try CommandRunner.start(
            CommandRunner.demoforgeBinary, ["--workspace", ws.path, "context", "set", "acme", "a=1"],
            environment: ["DEMOFORGE_FAULT": "atomic-write-before-rename"])
        let stderr = (child.standardError as! Pipe).fileHandleForReading
        let line = try await offPool { () -> String in
            var bytes: [UInt8] = []
            while true {
                let data = stderr.readData(ofLength: 1)
                if data.isEmpty || data.first == 10 { break }
                bytes += data
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(line.hasPrefix("FAULT atomic-write-before-rename \(file.path).tmp.\(child.processIdentifier)."))
        kill(child.processIdentifier, SIGKILL)
        try await offPool { child.waitUntilExit() }
        #expect(try String(contentsOf: file, encoding: .utf8) == before)

        // Plant the other cases next to the dead writer's temp file.
        let liveOwner = try CommandRunner.start("/bin/sleep", ["30"])
        defer { liveOwner.terminate() }
        let liveTemp = clientFolder.appendingPathComponent("demo.context.json.tmp.\(liveOwner.processIdentifier).live1")
        let malformed = clientFolder.appendingPathComponent("demo.context.json.tmp.x9")
        let bak = clientFolder.appendingPathComponent("demo.context.json.bak")
        for planted in [liveTemp, malformed, bak] { try Data("{}".utf8).write(to: planted) }
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: malformed.path)

        let next = try CommandRunner.demoforge(["context", "get", "acme", "version"], workspace: ws)
        #expect(next.status == 0)
        #expect(next.stdout == "1\n")
        #expect(next.stderr.contains("demoforge: removed 1 stale temp file(s)"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: clientFolder.path))
        #expect(left == ["demo.context.json", "demo.context.json.lock", liveTemp.lastPathComponent, malformed.lastPathComponent, bak.lastPathComponent])
    }

    /// 8 processes × 100 `context set` each: every key lands and the version counts every update.
    @Test(.timeLimit(.minutes(5))) func concurrentProcessesLoseNoUpdate() async throws {
        let folder = TemporaryFolder("lost-updates")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        _ = try CommandRunner.demoforge(["client", "add", "acme", "--name", "Acme"], workspace: ws)
        let script = """
            for j in $(seq 1 100); do "$1" --workspace "$2" context set acme "keys.p$3_$j=$j" >/dev/null || exit 1; done
            """
        let workers = try (1...8).map { i in
            try CommandRunner.start("/bin/sh", ["-c", script, "sh", CommandRunner.demoforgeBinary, ws.path, String(i)])
        }
        for worker in workers {
            try await offPool { worker.waitUntilExit() }
            #expect(worker.terminationStatus == 0)
        }
        let result = try CommandRunner.demoforge(["context", "get", "acme", "--json"], workspace: ws)
        let text = result.stdout
        #expect(text.contains("\"version\": 801"))
        for i in 1...8 {
            for j in 1...100 { #expect(text.contains("\"p\(i)_\(j)\": \(j)")) }
        }
    }
}
