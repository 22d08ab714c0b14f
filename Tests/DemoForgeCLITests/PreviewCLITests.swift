#if canImport(Glibc)
import Glibc
#endif
import DemoForgeTesting
import Foundation
import Testing

/// `demoforge preview`, `previews`, `snapshot` and `doctor` as real processes. Each test has its own port range
/// (28401...28460, outside the default 8081...8281 that only `PreviewManagerTests` uses).
@Suite(.serialized)
struct PreviewCLITests {
    static let bin = CommandRunner.demoforgeBinary

    /// `demoforge init` + a client; `config` replaces demoforge.json.
    static func workspace(_ folder: TemporaryFolder, config: String, client: [String] = ["acme", "--name", "Acme"]) async throws -> URL {
        let ws = folder.url.appendingPathComponent("shop")
        let initialized = try await offPool { try CommandRunner.demoforge(["init", ws.path]) }
        try #require(initialized.status == 0, "\(initialized.stderr)")
        try Data(config.utf8).write(to: ws.appendingPathComponent("demoforge.json"))
        let added = try await offPool { try CommandRunner.demoforge(["client", "add"] + client, workspace: ws) }
        try #require(added.status == 0, "\(added.stderr)")
        return ws
    }

    static func leaseFiles(_ ws: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent(".demoforge/run/ports").path)) ?? [])
            .filter { $0.hasSuffix(".lease") }.sorted()
    }

    static func groupRecords(_ ws: URL) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent(".demoforge/run/procs").path)) ?? [])
            .filter { $0.hasSuffix(".json") }.compactMap { Int32($0.dropLast(5)) }.sorted()
    }

    /// Waits for a child to end (off the cooperative pool).
    static func waitExit(_ process: Process) async throws -> Int32 {
        try await offPool {
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// A `demoforge preview SLUG` whose URL line has been read.
    static func startPreview(_ ws: URL, _ slug: String) async throws -> (process: Process, line: String) {
        let process = try CommandRunner.start(bin, ["--workspace", ws.path, "preview", slug])
        let lines = LineSource(process.standardOutput as! Pipe)
        let line = try await offPool { lines.waitFor("Preview of \(slug): ") } ?? ""
        return (process, line)
    }

    /// A `demoforge preview` SIGKILLed leaves its lease and its server group; the next command reaps the group,
    /// and the next preview reclaims the lease and gets the same port.
    @Test(.timeLimit(.minutes(1)))
    func killedPreviewIsReapedAndItsPortReclaimed() async throws {
        let folder = TemporaryFolder("cli-preview-kill")
        defer { folder.remove() }
        let ws = try await Self.workspace(folder, config: #"{"ports": {"from": 28401, "to": 28410}}"#)
        let publicFolder = ws.appendingPathComponent("client-websites/acme/public")
        try FileManager.default.createDirectory(at: publicFolder, withIntermediateDirectories: true)
        try Data("<!doctype html><title>acme</title>acme".utf8).write(to: publicFolder.appendingPathComponent("index.html"))

        let (first, line) = try await Self.startPreview(ws, "acme")
        #expect(line.hasPrefix("Preview of acme: http://127.0.0.1:28401/  ("))
        let groups = Self.groupRecords(ws)
        #expect(groups.count == 1)
        let server = try #require(groups.first)
        #expect(ProcessInspection.liveMembers(ofGroup: server) == [server])
        #expect(Self.leaseFiles(ws) == ["28401.lease"])

        kill(first.processIdentifier, SIGKILL)
        _ = try await Self.waitExit(first)
        // The crash leaves both behind.
        #expect(ProcessInspection.liveMembers(ofGroup: server) == [server])
        #expect(Self.leaseFiles(ws) == ["28401.lease"])

        let listing = try await offPool { try CommandRunner.demoforge(["previews"], workspace: ws) }
        #expect(listing.status == 0)
        #expect(listing.stderr.contains("demoforge: reaped orphaned process group \(server) ("))
        #expect(listing.stdout == "28401  acme  http://127.0.0.1:28401/  pid \(first.processIdentifier) (dead: stale)\n")
        // Reaped before any port is handed out again.
        #expect(ProcessInspection.liveMembers(ofGroup: server) == [])
        #expect(Self.groupRecords(ws) == [])
        var status: Int32 = 0
        _ = waitpid(server, &status, WNOHANG)  // the orphan may have been re-parented to us (a subreaper)

        let (second, again) = try await Self.startPreview(ws, "acme")
        #expect(again.hasPrefix("Preview of acme: http://127.0.0.1:28401/  ("))
        let lease = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.appendingPathComponent(".demoforge/run/ports/28401.lease"))) as? [String: Any]
        #expect(lease?["pid"] as? Int == Int(second.processIdentifier))
        #expect(lease?["slug"] as? String == "acme")
        let newServer = try #require(Self.groupRecords(ws).first)
        #expect(newServer != server)

        kill(second.processIdentifier, SIGINT)
        #expect(try await Self.waitExit(second) == 0)
        #expect(ProcessInspection.liveMembers(ofGroup: newServer) == [])
        #expect(Self.leaseFiles(ws) == [])
        #expect(Self.groupRecords(ws) == [])
    }

    /// Processes that carry `DEMOFORGE_TEST_MARKER=<marker>` in their environment (a browser started by a
    /// command we ran with that marker inherits it).
    static func processesWithMarker(_ marker: String) -> [Int32] {
        let needle = Array("DEMOFORGE_TEST_MARKER=\(marker)".utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return data.split(separator: 0).contains { Array($0) == needle }
        }
    }

    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ path: String) -> (Int, Int)? {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 24,
            Array(data.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        else { return nil }
        let bytes = Array(data)
        func int(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (int(16), int(20))
    }

    /// Runs `demoforge snapshot` with a marker in its environment; returns the result, the seconds it took and
    /// the marked processes left afterwards.
    static func snapshot(_ ws: URL, _ arguments: [String]) async throws -> (CommandResult, Double, [Int32]) {
        let marker = UUID().uuidString
        let began = Date()
        let result = try await offPool {
            try CommandRunner.demoforge(["snapshot"] + arguments, workspace: ws, environment: ["DEMOFORGE_TEST_MARKER": marker])
        }
        let elapsed = Date().timeIntervalSince(began)
        // Helpers re-parented at the browser's exit may take a moment to go.
        _ = await ProcessInspection.eventually(5) { processesWithMarker(marker).isEmpty }
        return (result, elapsed, processesWithMarker(marker))
    }

    @Test(.timeLimit(.minutes(2)))
    func snapshotOfTheBuiltStarterSiteWritesTwoPNGs() async throws {
        let folder = TemporaryFolder("cli-snapshot-starter")
        defer { folder.remove() }
        let brief = CommandRunner.packageRoot.appendingPathComponent("examples/briefs/acme-plumbing.json").path
        let ws = try await Self.workspace(
            folder, config: #"{"ports": {"from": 28411, "to": 28420}}"#, client: ["acme-plumbing", "--brief", brief])
        let site = ws.appendingPathComponent("client-websites/acme-plumbing")
        let starter = ws.appendingPathComponent("templates/starter")
        for name in try FileManager.default.contentsOfDirectory(atPath: starter.path) {
            try FileManager.default.copyItem(at: starter.appendingPathComponent(name), to: site.appendingPathComponent(name))
        }
        let build = try await offPool { try CommandRunner.run("/usr/bin/env", ["npm", "run", "build"], cwd: site) }
        try #require(build.status == 0, "\(build.stdout)\(build.stderr)")

        let (result, elapsed, left) = try await Self.snapshot(ws, ["acme-plumbing"])
        print("PreviewCLITests: snapshot of the starter site took \(String(format: "%.1f", elapsed)) s")
        #expect(result.status == 0, "\(result.stderr)")
        var paths: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            if let match = line.wholeMatch(of: /(desktop|mobile): (\/\S+\.png) \((\d+)x(\d+), HTTP 200\)/) {
                paths[String(match.1)] = String(match.2)
            }
        }
        #expect(paths.keys.sorted() == ["desktop", "mobile"], "\(result.stdout)")
        for (name, width) in [("desktop", 1280), ("mobile", 390)] {
            let path = try #require(paths[name])
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(path.hasPrefix(ws.appendingPathComponent(".demoforge/artifacts/").path))
            #expect(Self.pngSize(path)?.0 == width)
        }
        #expect(!result.stdout.contains("console error"))
        #expect(left == [])
        #expect(Self.leaseFiles(ws) == [])
        #expect(Self.groupRecords(ws) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func snapshotRecordsConsoleErrorAndUncaughtException() async throws {
        let folder = TemporaryFolder("cli-snapshot-boom")
        defer { folder.remove() }
        let config = """
            {"ports": {"from": 28421, "to": 28430},
             "preview": {"command": ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]},
             "snapshot": {"timeoutSeconds": 20}}
            """
        let ws = try await Self.workspace(folder, config: config)
        let page = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>boom</title></head>
            <body><h1>Boom</h1>
            <script>
            console.error("boom");
            throw new Error("kaboom");
            </script>
            </body></html>
            """
        try Data(page.utf8).write(to: ws.appendingPathComponent("client-websites/acme/index.html"))

        let (result, _, left) = try await Self.snapshot(ws, ["acme"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("  console error: boom\n"))
        #expect(result.stdout.contains("  uncaught exception: "))
        let reportLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("report: ") }
        let reportPath = try #require(reportLine.map { String($0.dropFirst("report: ".count)) })
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: reportPath))) as? [String: Any])
        let viewports = try #require(report["viewports"] as? [[String: Any]])
        #expect(viewports.count == 2)
        for viewport in viewports {
            let errors = (viewport["consoleErrors"] as? [[String: Any]]) ?? []
            let exceptions = (viewport["exceptions"] as? [[String: Any]]) ?? []
            #expect(errors.map { $0["text"] as? String } == ["boom"])
            #expect(exceptions.count == 1)
            #expect((exceptions.first?["message"] as? String)?.hasPrefix("Error: kaboom") == true)
            #expect(viewport["status"] as? Int == 200)
        }
        #expect(left == [])
        #expect(Self.leaseFiles(ws) == [])
        #expect(Self.groupRecords(ws) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func snapshotOfAPortWithNoListenerSaysPreviewUnreachable() async throws {
        let folder = TemporaryFolder("cli-snapshot-unreachable")
        defer { folder.remove() }
        let ws = try await Self.workspace(
            folder, config: #"{"ports": {"from": 28431, "to": 28440}, "snapshot": {"timeoutSeconds": 10}}"#)
        let port = try Self.portWithNoListener()
        let (result, elapsed, left) = try await Self.snapshot(ws, ["acme", "--url", "http://127.0.0.1:\(port)/"])
        print("PreviewCLITests: unreachable snapshot took \(String(format: "%.1f", elapsed)) s")
        #expect(result.status == 1)
        #expect(result.stderr.contains("preview unreachable: http://127.0.0.1:\(port)/"), "\(result.stderr)")
        #expect(elapsed < 10)
        #expect(left == [])
        #expect(Self.leaseFiles(ws) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func doctorFindsNodeNpmAndChromium() async throws {
        let folder = TemporaryFolder("cli-doctor")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try await offPool { try CommandRunner.demoforge(["init", ws.path]) }
        // Doctor test-binds the first ports of the range: keep it off the default range other tests use.
        try Data(#"{"ports": {"from": 28441, "to": 28460}}"#.utf8).write(to: ws.appendingPathComponent("demoforge.json"))
        let result = try await offPool { try CommandRunner.demoforge(["doctor"], workspace: ws) }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for tool in ["node", "npm", "chromium"] {
            #expect(lines.contains { $0.hasPrefix("ok    \(tool) ") }, "\(tool): \(result.stdout)")
        }
        #expect(lines.contains("ok    ports 28441-28460: 0 leased, first free 28441"), "\(result.stdout)")
        #expect(!lines.contains { $0.hasPrefix("FAIL") })
    }

    /// A loopback port that nothing listens on (bound to 0, read, closed).
    static func portWithNoListener() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw CocoaError(.fileWriteUnknown) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Ctrl-C while the server is still starting (not yet answering) stops it at once, not after
    /// `preview.readyTimeoutSeconds`.
    @Test(.timeLimit(.minutes(1)))
    func ctrlCWhileThePreviewStartsStopsAtOnce() async throws {
        let folder = TemporaryFolder("cli-preview-ctrlc")
        defer { folder.remove() }
        let ws = try await Self.workspace(
            folder, config: #"{"ports": {"from": 28461, "to": 28470}, "preview": {"command": ["sleep", "40"], "readyTimeoutSeconds": 30}}"#)
        let process = try CommandRunner.start(Self.bin, ["--workspace", ws.path, "preview", "acme"])
        let started = await ProcessInspection.eventually(10) { Self.groupRecords(ws).count == 1 }
        #expect(started)
        let server = try #require(Self.groupRecords(ws).first)
        let began = Date()
        kill(process.processIdentifier, SIGINT)
        let status = try await Self.waitExit(process)
        let elapsed = Date().timeIntervalSince(began)
        #expect(elapsed < 5, "took \(elapsed) s")
        #expect(status == 1)
        #expect(ProcessInspection.liveMembers(ofGroup: server) == [])
        #expect(Self.leaseFiles(ws) == [])
        #expect(Self.groupRecords(ws) == [])
    }

    /// The server's log keeps streaming after the ring buffer (500 lines) is full.
    @Test(.timeLimit(.minutes(1)))
    func previewLogKeepsStreamingPastFiveHundredLines() async throws {
        let folder = TemporaryFolder("cli-preview-log")
        defer { folder.remove() }
        let script = """
            python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1 &
            i=0; while [ $i -lt 520 ]; do echo early-$i; i=$((i+1)); done
            while [ ! -e go ]; do sleep 0.1; done
            echo late-1; echo late-2
            wait
            """
        let scriptJSON = String(decoding: try JSONSerialization.data(withJSONObject: [script], options: [.fragmentsAllowed]), as: UTF8.self)
        let config = #"{"ports": {"from": 28471, "to": 28480}, "preview": {"command": ["sh", "-c", \#(scriptJSON.dropFirst().dropLast())]}}"#
        let ws = try await Self.workspace(folder, config: config)
        let process = try CommandRunner.start(Self.bin, ["--workspace", ws.path, "preview", "acme"])
        let lines = LineSource(process.standardOutput as! Pipe)
        let first = try await offPool { lines.waitFor("Preview of acme: ") } ?? ""
        #expect(first.hasPrefix("Preview of acme: http://127.0.0.1:28471/"))
        try Data().write(to: ws.appendingPathComponent("client-websites/acme/go"))
        // Bounded: Ctrl-C after 15 s ends the output if "late-2" never comes.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(15))
            kill(process.processIdentifier, SIGINT)
        }
        let shown = try await offPool { () -> [String] in
            var shown: [String] = []
            while let line = lines.next() {
                shown.append(line)
                if line == "  | late-2" { break }
            }
            return shown
        }
        watchdog.cancel()
        #expect(shown.suffix(2) == ["  | late-1", "  | late-2"])
        let early = shown.filter { $0.hasPrefix("  | early-") }
        #expect(Set(early).count == early.count)  // nothing twice
        kill(process.processIdentifier, SIGINT)
        #expect(try await Self.waitExit(process) == 0)
        #expect(Self.leaseFiles(ws) == [])
        #expect(Self.groupRecords(ws) == [])
    }
}
