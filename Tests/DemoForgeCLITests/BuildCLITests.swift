import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// A workspace with one client whose build command is `build` (an argv).
func buildWorkspace(_ label: String, build: String, extra: String = "") throws -> (TemporaryFolder, URL) {
    let folder = TemporaryFolder(label)
    let ws = folder.url.appendingPathComponent("shop")
    _ = try CommandRunner.demoforge(["init", ws.path])
    let config = #"{"build": {"command": \#(build), "retry": {"maxAttempts": 3, "initialDelaySeconds": 0.2, "multiplier": 2, "maxDelaySeconds": 1}\#(extra)}}"#
    try Data(config.utf8).write(to: ws.appendingPathComponent("demoforge.json"))
    _ = try CommandRunner.demoforge(["client", "add", "acme", "--name", "Acme"], workspace: ws)
    return (folder, ws)
}

@Suite struct BuildCLITests {
    @Test func exitZeroWithoutOutputFolderFailsNamingTheFolder() throws {
        let (folder, ws) = try buildWorkspace("build-nopublic", build: #"["sh", "-c", "echo built"]"#)
        defer { folder.remove() }
        let result = try CommandRunner.demoforge(["build", "acme"], workspace: ws)
        #expect(result.status == 1)
        let publicPath = ws.appendingPathComponent("client-websites/acme/public").path
        #expect(result.stderr.contains("The build exited 0 but its output folder public/ is missing or empty (\(publicPath))"))
        let state = try CommandRunner.demoforge(["context", "get", "acme", "results.build.state"], workspace: ws)
        #expect(state.stdout == "failed\n")
    }

    @Test func retriesUntilSuccessAndRecordsAttempts() throws {
        let script = #"n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ] || { echo "fail $n"; exit 1; }; mkdir -p public; echo ok > public/index.html; echo done"#
        let (folder, ws) = try buildWorkspace("build-retry", build: #"["sh", "-c", "\#(script.replacingOccurrences(of: "\"", with: "\\\""))"]"#)
        defer { folder.remove() }
        let result = try CommandRunner.demoforge(["build", "acme", "--json"], workspace: ws)
        #expect(result.status == 0)
        #expect(result.stdout.components(separatedBy: "\"type\":\"retry\"").count - 1 == 2)
        #expect(result.stdout.contains("\"message\":\"fail 2\""))
        let attempts = try CommandRunner.demoforge(["context", "get", "acme", "results.build.attempts"], workspace: ws)
        #expect(attempts.stdout == "3\n")
    }

    @Test func execFailureIsNamedAndNotRetried() throws {
        let (folder, ws) = try buildWorkspace("build-exec", build: #"["no-such-binary-xyz"]"#)
        defer { folder.remove() }
        let result = try CommandRunner.demoforge(["build", "acme", "--json"], workspace: ws)
        #expect(result.status == 1)
        #expect(result.stdout.contains("no-such-binary-xyz"))
        #expect(!result.stdout.contains("\"type\":\"retry\""))
        #expect(try CommandRunner.demoforge(["context", "get", "acme", "results.build.attempts"], workspace: ws).stdout == "1\n")
    }

    @Test(.timeLimit(.minutes(1))) func interruptTearsTheBuildGroupDown() async throws {
        let (folder, ws) = try buildWorkspace("build-int", build: #"["sh", "-c", "echo started; sleep 300"]"#)
        defer { folder.remove() }
        let child = try CommandRunner.start(CommandRunner.demoforgeBinary, ["--workspace", ws.path, "build", "acme"])
        let lines = LineSource(child.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor("started") } != nil)
        let record = try #require(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent(".demoforge/run/procs").path).first)
        let pgid = Int32(record.split(separator: ".")[0])!
        #expect(!ProcessInspection.liveMembers(ofGroup: pgid).isEmpty)
        kill(child.processIdentifier, SIGINT)
        try await offPool { child.waitUntilExit() }
        #expect(child.terminationStatus == 1)
        #expect(ProcessInspection.liveMembers(ofGroup: pgid).isEmpty)
        let tasks = try CommandRunner.demoforge(["tasks"], workspace: ws)
        #expect(tasks.stdout.contains("CANCELLED"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent(".demoforge/run/procs").path).isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func killedBuildIsReapedByTheNextCommandAndReusedPidsAreSpared() async throws {
        let (folder, ws) = try buildWorkspace("build-reap", build: #"["sh", "-c", "echo started; sleep 300"]"#)
        defer { folder.remove() }
        let child = try CommandRunner.start(CommandRunner.demoforgeBinary, ["--workspace", ws.path, "build", "acme"])
        let lines = LineSource(child.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor("started") } != nil)
        let procs = ws.appendingPathComponent(".demoforge/run/procs")
        let record = try #require(try FileManager.default.contentsOfDirectory(atPath: procs.path).first)
        let pgid = Int32(record.split(separator: ".")[0])!
        kill(child.processIdentifier, SIGKILL)
        try await offPool { child.waitUntilExit() }
        // The build outlived its supervisor.
        #expect(!ProcessInspection.liveMembers(ofGroup: pgid).isEmpty)

        // A record whose leader pid now belongs to an unrelated process (another start time).
        let bystander = try CommandRunner.start("/bin/sleep", ["30"])
        defer { bystander.terminate() }
        let deadOwner = try exitedPid()
        let fake = #"{"argv":["sleep"],"leaderPid":\#(bystander.processIdentifier),"leaderStartTime":1,"ownerPid":\#(deadOwner),"ownerStartTime":1,"pgid":\#(bystander.processIdentifier),"startedAt":"2026-01-01T00:00:00Z","token":"x"}"#
        try Data(fake.utf8).write(to: procs.appendingPathComponent("\(bystander.processIdentifier).json"))

        let next = try CommandRunner.demoforge(["tasks"], workspace: ws)
        #expect(next.status == 0)
        #expect(next.stderr.contains("reaped orphaned process group \(pgid)"))
        #expect(await ProcessInspection.eventually(5) { ProcessInspection.liveMembers(ofGroup: pgid).isEmpty })
        #expect(bystander.isRunning)
        #expect(try FileManager.default.contentsOfDirectory(atPath: procs.path).isEmpty)
    }
}

func exitedPid() throws -> Int32 {
    let process = try CommandRunner.start("/bin/true", [])
    process.waitUntilExit()
    return process.processIdentifier
}
