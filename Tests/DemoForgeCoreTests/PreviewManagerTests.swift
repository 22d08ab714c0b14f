#if canImport(Glibc)
import Glibc
#endif
@testable import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// Previews on the DEFAULT port range 8081... (the only suite of the project that uses it, hence `.serialized`).
/// Servers: the built-in static server (`demoforge __static`), `npm start`, `sh`/`sleep`/`python3` commands.
@Suite(.serialized)
struct PreviewManagerTests {
    static let failingConfigs = [
        #"{"preview": {"command": ["sh", "-c", "echo boom; exit 1"], "readyTimeoutSeconds": 1}}"#,
        #"{"preview": {"command": ["no-such-binary-xyz"], "readyTimeoutSeconds": 1}}"#,
        #"{"preview": {"command": ["sleep", "30"], "readyTimeoutSeconds": 1}}"#,
    ]

    /// Nil when `error` is the real error of a start with command kind `kind` (index of `failingConfigs`).
    static func mismatch(_ error: PreviewError, kind: Int) -> String? {
        switch kind {
        case 0:
            if error.code == .exited, error.message.contains("(sh -c echo boom; exit 1) exited with status 1 before it answered"),
                error.lastLines == ["boom"], error.description.contains("boom")
            {
                return nil
            }
        case 1:
            if error.code == .spawnFailed, error.message.contains("no-such-binary-xyz") { return nil }
        default:
            if error.code == .notReady, error.message.contains("(sleep 30) did not answer on http://127.0.0.1:"),
                error.message.hasSuffix("within 1 s"), error.lastLines == []
            {
                return nil
            }
        }
        return "kind \(kind): \(error.code.name): \(error.description)"
    }

    @Test(.timeLimit(.minutes(3)))
    func thousandFailingStartsReportTheirErrorsAndLeaveNoLease() async throws {
        let clients = (0..<20).map { String(format: "fail-%02d", $0) }
        try await PreviewBench.with(clients: clients) { bench in
            // Three managers on one root: one lease folder, three configurations.
            let managers = try Self.failingConfigs.map { try bench.manager(config: $0) }
            let began = monotonicSeconds()
            let (problems, counts) = try await withThrowingTaskGroup(of: ([String], [Int]).self) { group in
                for (index, slug) in clients.enumerated() {
                    group.addTask {
                        var problems: [String] = []
                        var counts = [0, 0, 0]
                        for round in 0..<50 {
                            let number = round * 20 + index
                            let kind = number % 3
                            counts[kind] += 1
                            do {
                                let info = try await managers[kind].start(slug)
                                problems.append("start \(number) (\(slug)) answered on port \(info.port)")
                            } catch let error as PreviewError {
                                if let text = Self.mismatch(error, kind: kind) { problems.append("start \(number): \(text)") }
                            } catch {
                                problems.append("start \(number): not a PreviewError: \(error)")
                            }
                        }
                        return (problems, counts)
                    }
                }
                var problems: [String] = []
                var counts = [0, 0, 0]
                for try await (some, count) in group {
                    problems += some
                    for kind in 0..<3 { counts[kind] += count[kind] }
                }
                return (problems, counts)
            }
            let elapsed = monotonicSeconds() - began
            print("PreviewManagerTests: 1000 failing starts, 20 at a time, took \(String(format: "%.1f", elapsed)) s")
            #expect(counts == [334, 333, 333])
            #expect(problems.prefix(5) == [])
            #expect(problems.count == 0)
            #expect(bench.leaseFileNames == [])
            #expect(bench.supervisor.runningCount == 0)
            for manager in managers { #expect(await manager.list() == []) }

            // A healthy preview (built-in static server over public/) now gets the first port.
            try bench.writePublic(clients[0])
            let healthy = try bench.manager()
            let info = try await healthy.start(clients[0])
            #expect(info.port == 8081)
            #expect(info.state == .ready)
            #expect(info.command == [CommandRunner.demoforgeBinary, "__static", "--root",
                bench.workspace.clientFolder(clients[0]).appendingPathComponent("public").path, "--port", "8081"])
            #expect(bench.leaseFileNames == ["8081.lease"])
            await healthy.stop(clients[0])
            #expect(bench.leaseFileNames == [])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func foreignListenerOnFirstPortIsSkippedWithoutALease() async throws {
        try await PreviewBench.with(clients: ["acme"]) { bench in
            try bench.writePublic("acme")
            let listener = try TestListener(address: "127.0.0.1", port: 8081)
            defer { listener.close() }
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            #expect(info.port == 8082)
            #expect(info.url == "http://127.0.0.1:8082/")
            #expect(!FileManager.default.fileExists(atPath: bench.workspace.portsFolder.appendingPathComponent("8081.lease").path))
            #expect(bench.leaseFileNames == ["8082.lease"])
            await manager.stop("acme")
            #expect(bench.leaseFileNames == [])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func tenConcurrentStartsShareOneProcess() async throws {
        try await PreviewBench.with(clients: ["acme"]) { bench in
            try bench.writePublic("acme")
            let manager = try bench.manager()
            let answers = try await withThrowingTaskGroup(of: PreviewInfo.self) { group in
                for _ in 0..<10 { group.addTask { try await manager.start("acme") } }
                return try await group.reduce(into: [PreviewInfo]()) { $0.append($1) }
            }
            #expect(answers.count == 10)
            #expect(Set(answers.map { $0.pid ?? -1 }).count == 1)
            #expect(answers.allSatisfy { $0 == answers[0] })
            #expect(answers[0].port == 8081)
            #expect(answers[0].state == .ready)
            #expect(bench.supervisor.runningCount == 1)
            #expect(bench.leaseFileNames == ["8081.lease"])
            let pid = try #require(answers[0].pid)
            #expect(ProcessInspection.liveMembers(ofGroup: pid) == [pid])
            #expect(await manager.list() == [answers[0]])
            await manager.stop("acme")
            #expect(ProcessInspection.liveMembers(ofGroup: pid) == [])
        }
    }

    /// `npm start` → `sh -c 'node server.js'` → node, which ignores SIGTERM: the SIGKILL after the grace period
    /// must take the whole tree, and the port must bind again.
    @Test(.timeLimit(.minutes(1)))
    func stopTakesTheWholeNpmShNodeTree() async throws {
        try await PreviewBench.with(config: #"{"preview": {"stopGraceSeconds": 1}}"#, clients: ["acme"]) { bench in
            try bench.writeFiles("acme", [
                "package.json": #"{"name": "acme", "private": true, "scripts": {"start": "sh -c 'node server.js'"}}"#,
                "server.js": """
                    const fs = require('fs');
                    process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
                    fs.writeFileSync('node.pid', String(process.pid));
                    require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), () => console.log('listening'));
                    """,
            ])
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            #expect(info.port == 8081)
            #expect(info.command == ["npm", "start", "--", "--port=8081"])
            let leader = try #require(info.pid)
            let nodeText = try String(contentsOf: bench.workspace.clientFolder("acme").appendingPathComponent("node.pid"), encoding: .utf8)
            let node = try #require(Int32(nodeText))
            let tree = ProcessInspection.liveMembers(ofGroup: leader)
            #expect(tree.contains(leader))
            #expect(tree.contains(node))
            #expect(tree.count >= 3)  // npm, sh, node
            #expect(!PortProbe.isFree(port: 8081))

            await manager.stop("acme")
            #expect(ProcessInspection.liveMembers(ofGroup: leader) == [])
            for pid in tree { #expect(processIsGone(pid), "pid \(pid) of the tree still runs") }
            #expect(PortProbe.isFree(port: 8081))
            #expect(bench.leaseFileNames == [])
            #expect(await manager.list() == [])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func idleTimeoutStopsThePreviewAndFreesThePort() async throws {
        try await PreviewBench.with(config: #"{"preview": {"idleTimeoutSeconds": 1}}"#, clients: ["acme"]) { bench in
            try bench.writePublic("acme")
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            let ready = monotonicSeconds()
            let pid = try #require(info.pid)
            #expect(bench.leaseFileNames == ["8081.lease"])
            let stopped = await ProcessInspection.eventually(10) {
                bench.leaseFileNames == [] && ProcessInspection.liveMembers(ofGroup: pid) == []
            }
            let after = monotonicSeconds() - ready
            #expect(stopped)
            #expect(after >= 0.9)
            #expect(await manager.list() == [])
            #expect(PortProbe.isFree(port: 8081))
            print("PreviewManagerTests: idle stop after \(String(format: "%.2f", after)) s")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func touchKeepsAPreviewPastItsIdleTimeout() async throws {
        try await PreviewBench.with(config: #"{"preview": {"idleTimeoutSeconds": 1}}"#, clients: ["acme"]) { bench in
            try bench.writePublic("acme")
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            let until = monotonicSeconds() + 2.5
            while monotonicSeconds() < until {
                await manager.touch("acme")
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(await manager.list().map(\.pid) == [info.pid])
            #expect(bench.leaseFileNames == ["8081.lease"])
            await manager.stop("acme")
        }
    }

    /// A server that says "address already in use" on 8081 and exits is started again, once, on 8082.
    @Test(.timeLimit(.minutes(1)))
    func addressInUseIsRetriedOnceOnAnotherPort() async throws {
        let script = """
            echo "$PORT" >> attempts.txt
            if [ "$PORT" = 8081 ]; then echo "Error: listen EADDRINUSE: address already in use 0.0.0.0:8081"; exit 1; fi
            exec python3 -m http.server "$PORT" --bind 127.0.0.1
            """
        let config = #"{"preview": {"command": ["sh", "-c", \#(JSONValue.string(script).compact())]}}"#
        try await PreviewBench.with(config: config, clients: ["acme"]) { bench in
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            #expect(info.port == 8082)
            #expect(info.state == .ready)
            let attempts = try String(contentsOf: bench.workspace.clientFolder("acme").appendingPathComponent("attempts.txt"), encoding: .utf8)
            #expect(attempts == "8081\n8082\n")
            #expect(bench.leaseFileNames == ["8082.lease"])
            await manager.stop("acme")
        }
    }

    /// Always "address in use": one retry, then the error with the server's lines.
    @Test(.timeLimit(.minutes(1)))
    func addressInUseTwiceFailsAfterOneRetry() async throws {
        let script = #"echo "$PORT" >> attempts.txt; echo "Error: listen EADDRINUSE: address already in use :::$PORT"; exit 1"#
        let config = #"{"preview": {"command": ["sh", "-c", \#(JSONValue.string(script).compact())]}}"#
        try await PreviewBench.with(config: config, clients: ["acme"]) { bench in
            let manager = try bench.manager()
            let error = await #expect(throws: PreviewError.self) { try await manager.start("acme") }
            #expect(error?.code == .exited)
            #expect(error?.lastLines == ["Error: listen EADDRINUSE: address already in use :::8082"])
            let attempts = try String(contentsOf: bench.workspace.clientFolder("acme").appendingPathComponent("attempts.txt"), encoding: .utf8)
            #expect(attempts == "8081\n8082\n")
            #expect(bench.leaseFileNames == [])
        }
    }

    static let pythonServer = #"{"preview": {"command": ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]}}"#

    /// A server that dies after it was ready is not reported as running: its port goes back to the pool and the
    /// next start runs a new server.
    @Test(.timeLimit(.minutes(1)))
    func aServerThatDiesAfterReadyIsForgottenAndStartedAgain() async throws {
        try await PreviewBench.with(config: Self.pythonServer, clients: ["acme"]) { bench in
            let manager = try bench.manager()
            let first = try await manager.start("acme")
            let pid = try #require(first.pid)
            #expect(first.port == 8081)
            kill(-pid, SIGKILL)
            let released = await ProcessInspection.eventually(10) { bench.leaseFileNames == [] }
            #expect(released)
            #expect(await manager.list() == [])
            let second = try await manager.start("acme")
            #expect(second.pid != first.pid)
            #expect(second.port == 8081)
            #expect(second.state == .ready)
            #expect(await HTTPProbe.answers(port: 8081))
            await manager.stop("acme")
        }
    }

    /// `stop` while the preview is starting cancels that start; a `start` right after it starts anew instead of
    /// sharing the cancelled start.
    @Test(.timeLimit(.minutes(1)))
    func startRightAfterStoppingAStartingPreviewStartsAnew() async throws {
        let script = #"if [ -e slow ]; then rm slow; sleep 30; fi; exec python3 -m http.server "$PORT" --bind 127.0.0.1"#
        let config = #"{"preview": {"command": ["sh", "-c", \#(JSONValue.string(script).compact())]}}"#
        try await PreviewBench.with(config: config, clients: ["acme"]) { bench in
            let slow = bench.workspace.clientFolder("acme").appendingPathComponent("slow")
            try Data().write(to: slow)
            let manager = try bench.manager()
            let pending = Task { try await manager.start("acme") }
            let spawned = await ProcessInspection.eventually(10) { !FileManager.default.fileExists(atPath: slow.path) }
            #expect(spawned)
            await manager.stop("acme")
            let info = try await manager.start("acme")
            #expect(info.state == .ready)
            #expect(info.port == 8081)
            let outcome = await pending.result
            #expect(throws: CancellationError.self) { try outcome.get() }
            await manager.stop("acme")
        }
    }

    /// A request counts like a touch: while a browser holds a connection to the server, the idle timeout does
    /// not stop it; once the connection is gone, it does.
    @Test(.timeLimit(.minutes(1)))
    func anOpenConnectionKeepsAPreviewPastItsIdleTimeout() async throws {
        try await PreviewBench.with(config: #"{"preview": {"idleTimeoutSeconds": 2}}"#, clients: ["acme"]) { bench in
            try bench.writePublic("acme")
            let manager = try bench.manager()
            let info = try await manager.start("acme")
            let connection = try await offPool { () -> RawHTTPConnection in
                let connection = try RawHTTPConnection(port: 8081)
                try connection.sendRequest("GET", "/")
                _ = try connection.readResponse()
                return connection
            }
            // From here on only the open connection keeps it (no race with a loaded machine's slow connect).
            await manager.touch("acme")
            #expect(await manager.list().map(\.pid) == [info.pid])
            // Three idle periods with the connection open (a browser tab keeps one): still running.
            try await Task.sleep(for: .seconds(6))
            #expect(await manager.list().map(\.pid) == [info.pid])
            #expect(bench.leaseFileNames == ["8081.lease"])
            connection.close()
            let stopped = await ProcessInspection.eventually(10) { bench.leaseFileNames == [] }
            #expect(stopped)
            #expect(await manager.list() == [])
        }
    }

    /// A second `stop` (or `shutdown`) while a stop is tearing the server down returns only when the port is
    /// back: a command that exits right after it must not leave its lease behind.
    @Test(.timeLimit(.minutes(1)))
    func stopAndShutdownWaitForAStopInProgress() async throws {
        let config = #"{"preview": {"command": ["sh", "-c", "trap '' TERM; exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"], "stopGraceSeconds": 1}}"#
        try await PreviewBench.with(config: config, clients: ["acme", "bravo"]) { bench in
            let manager = try bench.manager()
            for (slug, last) in [("acme", "stop"), ("bravo", "shutdown")] {
                let info = try await manager.start(slug)
                let pid = try #require(info.pid)
                let first = Task { await manager.stop(slug) }
                while await manager.list().contains(where: { $0.slug == slug }) { await Task.yield() }
                if last == "stop" { await manager.stop(slug) } else { await manager.shutdown() }
                #expect(bench.leaseFileNames == [], "after \(last)")
                #expect(ProcessInspection.liveMembers(ofGroup: pid) == [], "after \(last)")
                await first.value
            }
        }
    }

    /// The idle period starts when the server is ready, not when it was spawned: a server slower to start than
    /// the idle timeout is not stopped the moment it is ready.
    @Test(.timeLimit(.minutes(1)))
    func idleTimeoutCountsFromReadiness() async throws {
        let config = #"{"preview": {"command": ["sh", "-c", "sleep 1.5; exec python3 -m http.server \"$PORT\" --bind 127.0.0.1"], "idleTimeoutSeconds": 1}}"#
        try await PreviewBench.with(config: config, clients: ["acme"]) { bench in
            let manager = try bench.manager()
            _ = try await manager.start("acme")
            let ready = monotonicSeconds()
            let stopped = await ProcessInspection.eventually(10) { bench.leaseFileNames == [] }
            let after = monotonicSeconds() - ready
            #expect(stopped)
            #expect(after >= 0.9, "stopped \(after) s after it was ready")
        }
    }
}
