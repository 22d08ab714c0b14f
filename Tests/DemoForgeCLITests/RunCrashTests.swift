import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// `demoforge run` killed, resumed, restarted and cancelled (in the serialized ``RunCLITests`` suite: one port
/// range, and cancellation timings measured without other runs competing for the 2 cores).
extension RunCLITests {
    /// SIGKILL during build, then `run` again: the orphaned build group is reaped, the run resumes at build
    /// (step 4) in the same task and ends DONE without running the earlier steps again.
    @Test(.timeLimit(.minutes(1))) func killedDuringBuildResumesAtBuild() async throws {
        let folder = TemporaryFolder("run-kill-mark")
        defer { folder.remove() }
        let mark = folder.url.appendingPathComponent("first-build").path
        let script = #"echo building; if [ ! -e '\#(mark)' ]; then : > '\#(mark)'; sleep 300; fi; exec npm run build"#
        let fixture = try RunFixture(
            "run-kill",
            config: #""agent": {"command": \#(RunFixture.fakeAgentCommand)}, "build": {"command": ["sh", "-c", "\#(script)"]}"#,
            steps: ["scaffold", "content", "polish", "build"])
        defer { fixture.remove() }
        let first = try fixture.start(["run", fixture.slug, "--json"])
        let lines = LineSource(first.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor("\"message\":\"building\"") } != nil)
        let groups = fixture.recordedGroups()
        #expect(groups.count == 1)
        let pgid = try #require(groups.first)
        #expect(!ProcessInspection.liveMembers(ofGroup: pgid).isEmpty)
        kill(first.processIdentifier, SIGKILL)
        #expect(try await exitStatus(first) == 9 || first.terminationReason == .uncaughtSignal)
        let taskId = try #require(fixture.taskIds().first)
        #expect(try fixture.status(taskId)[path: "state"]?.stringValue == "RUNNING")

        let second = try await offPool { try fixture.demoforge(["run", fixture.slug, "--json"]) }
        #expect(second.status == 0, "stdout: \(second.stdout)\nstderr: \(second.stderr)")
        #expect(second.stderr.contains("reaped orphaned process group \(pgid)"))
        #expect(ProcessInspection.liveMembers(ofGroup: pgid).isEmpty)
        #expect(fixture.taskIds() == [taskId])
        let started = try fixture.events(taskId).filter { $0[path: "type"]?.stringValue == "run-started" }
        #expect(started.count == 2)
        #expect(started.last?[path: "message"]?.stringValue?.contains("resumed at step 4 of 4") == true)
        #expect(try fixture.stepStarts(taskId) == ["scaffold": 1, "content": 1, "polish": 1, "build": 2])
        #expect(try fixture.status(taskId)[path: "state"]?.stringValue == "DONE")
        let context = try fixture.context()
        #expect(context[path: "workflow.steps.build.attempts"]?.intValue == 2)
        #expect(context[path: "results.build.state"]?.stringValue == "succeeded")
        let html = try String(contentsOf: fixture.clientFolder.appendingPathComponent("public/index.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<!-- fake-agent was here -->").count - 1 == 2)
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// A crashed run whose workflow was edited since (it stopped at step 4; now there are 2 steps) is started
    /// over instead of resumed at a step that no longer exists (before the fix: a trap on 3..<2).
    @Test(.timeLimit(.minutes(1))) func crashedRunOfAnEditedWorkflowStartsOver() async throws {
        let fixture = try RunFixture(
            "run-edited", config: #""build": {"command": ["sh", "-c", "echo building; sleep 300"]}"#, steps: ["scaffold", "content", "polish", "build"])
        defer { fixture.remove() }
        let first = try fixture.start(["run", fixture.slug, "--json"])
        let lines = LineSource(first.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor("\"message\":\"building\"") } != nil)
        kill(first.processIdentifier, SIGKILL)
        _ = try await exitStatus(first)
        let old = try #require(fixture.taskIds().first)
        let steps = [RunFixture.stepJSON["scaffold"]!, RunFixture.stepJSON["content"]!].joined(separator: ", ")
        try Data(#"{"name": "demo", "steps": [\#(steps)]}"#.utf8).write(to: fixture.ws.appendingPathComponent("workflows/demo.json"))

        let second = try await offPool { try fixture.demoforge(["run", fixture.slug, "--json"]) }
        #expect(second.status == 0, "stdout: \(second.stdout)\nstderr: \(second.stderr)")
        let new = try #require(fixture.taskIds().first { $0 != old })
        #expect(try fixture.status(old)[path: "error"]?.stringValue == "interrupted: its process died; superseded by run \(new)")
        #expect(try fixture.status(new)[path: "state"]?.stringValue == "DONE")
        #expect(try fixture.stepStarts(new) == ["scaffold": 1, "content": 1])
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// `run --restart` after a crash starts a new task from step 1; the crashed task ends FAILED "superseded".
    @Test(.timeLimit(.minutes(1))) func restartSupersedesACrashedRun() async throws {
        let fixture = try RunFixture(
            "run-restart", config: #""agent": {"command": \#(RunFixture.fakeAgentCommand)}"#, steps: ["scaffold", "content", "build"])
        defer { fixture.remove() }
        let gate = fixture.folder.url.appendingPathComponent("gate")
        let env = ["FAKE_AGENT_GATE": gate.path]
        let first = try fixture.start(["run", fixture.slug, "--json"], environment: env)
        let lines = LineSource(first.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor("fake-agent: waiting for the gate") } != nil)
        kill(first.processIdentifier, SIGKILL)
        _ = try await exitStatus(first)
        let old = try #require(fixture.taskIds().first)
        try Data().write(to: gate)

        let second = try await offPool { try fixture.demoforge(["run", fixture.slug, "--restart", "--json"], environment: env) }
        #expect(second.status == 0, "stdout: \(second.stdout)\nstderr: \(second.stderr)")
        let ids = fixture.taskIds()
        #expect(ids.count == 2)
        let new = try #require(ids.first { $0 != old })
        let oldStatus = try fixture.status(old)
        #expect(oldStatus[path: "state"]?.stringValue == "FAILED")
        #expect(oldStatus[path: "error"]?.stringValue == "interrupted: its process died; superseded by run \(new)")
        #expect(try fixture.status(new)[path: "state"]?.stringValue == "DONE")
        let started = try fixture.events(new).filter { $0[path: "type"]?.stringValue == "run-started" }
        #expect(started.map { $0[path: "message"]?.stringValue } == ["run of acme started: scaffold → content → build"])
        #expect(try fixture.stepStarts(new) == ["scaffold": 1, "content": 1, "build": 1])
        let context = try fixture.context()
        #expect(context[path: "workflow.taskId"]?.stringValue == new)
        #expect(context[path: "workflow.steps.content.attempts"]?.intValue == 1)
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// `demoforge cancel` during an agent that ignores SIGTERM: CANCELLED within grace (1 s) + 1 s + margin.
    @Test(.timeLimit(.minutes(1))) func cancelCommandStopsAnAgentThatIgnoresTerm() async throws {
        try await cancelDuringStubbornAgent(label: "run-cancel") { fixture, run, taskId in
            let result = try await offPool { try fixture.demoforge(["cancel", taskId]) }
            #expect(result.status == 0)
            #expect(result.stdout == "task \(taskId) CANCELLED\n")
        }
    }

    /// Ctrl-C (SIGINT) on `run` during an agent that ignores SIGTERM: the same.
    @Test(.timeLimit(.minutes(1))) func interruptStopsAnAgentThatIgnoresTerm() async throws {
        try await cancelDuringStubbornAgent(label: "run-sigint") { _, run, _ in
            kill(run.processIdentifier, SIGINT)
        }
    }

    /// `run --keep-preview`: after DONE the preview stays up until Ctrl-C, which stops it and exits 0.
    @Test(.timeLimit(.minutes(1))) func keptPreviewStopsOnInterrupt() async throws {
        let fixture = try RunFixture("run-keep", steps: ["scaffold", "build", "preview"])
        defer { fixture.remove() }
        let run = try fixture.start(["run", fixture.slug, "--keep-preview"])
        let errLines = LineSource(run.standardError as! Pipe)
        let kept = try await offPool { errLines.waitFor("preview kept at") }
        let url = try #require(kept?.split(separator: " ").first { $0.hasPrefix("http://127.0.0.1:") })
        let port = try #require(Int32(url.split(separator: ":")[2].prefix { $0.isNumber }))
        #expect((18400...18499).contains(port))
        #expect(FileManager.default.fileExists(atPath: fixture.ws.appendingPathComponent(".demoforge/run/ports/\(port).lease").path))
        #expect(fixture.recordedGroups().count == 1)
        kill(run.processIdentifier, SIGINT)
        // Before the fix the second signal handler never fired (SIGINT stayed ignored) and the preview ran on.
        let stopped = await ProcessInspection.eventually(15) { !run.isRunning }
        #expect(stopped)
        if !stopped { kill(run.processIdentifier, SIGKILL) }
        #expect(try await exitStatus(run) == 0)
        #expect(try fixture.status(fixture.taskIds()[0])[path: "state"]?.stringValue == "DONE")
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// Grace 1 s + 1 s, plus this margin for process start-up and scheduling on a busy 2-core machine.
    static let cancelMargin = 0.5

    private func cancelDuringStubbornAgent(
        label: String, cancel: (RunFixture, Process, String) async throws -> Void
    ) async throws {
        let agent = #"["sh", "-c", "trap '' TERM; echo stubborn agent started; while true; do sleep 1; done"]"#
        let fixture = try RunFixture(label, config: #""agent": {"command": \#(agent)}, "preview": {"stopGraceSeconds": 1}"#)
        defer { fixture.remove() }
        let run = try fixture.start(["run", fixture.slug, "--json"])
        let lines = LineSource(run.standardOutput as! Pipe)
        #expect(try await offPool { lines.waitFor(#""message":"stubborn agent started""#) } != nil)
        let taskId = try #require(fixture.taskIds().first)
        let groups = fixture.recordedGroups()
        #expect(groups.count == 1)
        let began = monotonicSeconds()
        try await cancel(fixture, run, taskId)
        let rest = try await offPool { () -> [String] in
            var collected: [String] = []
            while let line = lines.next() { collected.append(line) }
            return collected
        }
        let status = try await exitStatus(run)
        let elapsed = monotonicSeconds() - began
        print("\(label): cancelled run exited after \(String(format: "%.3f", elapsed)) s")
        #expect(status == 1)
        #expect(elapsed < 2 + Self.cancelMargin)
        #expect(rest.contains { $0.contains("\"type\":\"run-finished\"") && $0.contains("run CANCELLED") })
        #expect(try fixture.status(taskId)[path: "state"]?.stringValue == "CANCELLED")
        let context = try fixture.context()
        #expect(context[path: "workflow.state"]?.stringValue == "cancelled")
        #expect(context[path: "workflow.steps.content.state"]?.stringValue == "cancelled")
        #expect(context[path: "results.content"] == nil)
        for pgid in groups { #expect(ProcessInspection.liveMembers(ofGroup: pgid).isEmpty) }
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }
}
