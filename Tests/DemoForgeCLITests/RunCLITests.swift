import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

/// `demoforge run` end to end. Serialized: the suites share the port range 18400–18499.
@Suite(.serialized) struct RunCLITests {
    /// The example brief through the default workflow with a fake agent: a built, previewed, screenshotted site.
    @Test(.timeLimit(.minutes(2))) func exampleBriefEndToEndWithAFakeAgent() async throws {
        let fixture = try RunFixture("run-e2e", config: #""agent": {"command": \#(RunFixture.fakeAgentCommand)}"#)
        defer { fixture.remove() }
        let result = try await offPool { try fixture.demoforge(["run", fixture.slug]) }
        #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        #expect(result.stdout.contains("== acme: DONE"))
        let taskId = try #require(fixture.taskIds().first)
        #expect(fixture.taskIds().count == 1)
        #expect(try fixture.status(taskId)[path: "state"]?.stringValue == "DONE")

        let html = try String(contentsOf: fixture.clientFolder.appendingPathComponent("public/index.html"), encoding: .utf8)
        #expect(html.contains("Acme Plumbing &amp; Heating"))
        #expect(html.contains("(555) 014-2368"))
        // Both agent steps ran, once each.
        #expect(html.components(separatedBy: "<!-- fake-agent was here -->").count - 1 == 2)

        let artifacts = fixture.ws.appendingPathComponent(".demoforge/artifacts/\(taskId)")
        let pngs = try FileManager.default.contentsOfDirectory(atPath: artifacts.path).filter { $0.hasSuffix(".png") }.sorted()
        #expect(pngs == ["desktop.png", "mobile.png"])
        #expect(try pngWidth(artifacts.appendingPathComponent("desktop.png")) == 1280)
        #expect(try pngWidth(artifacts.appendingPathComponent("mobile.png")) == 390)

        let context = try fixture.context()
        #expect(context[path: "results.build.state"]?.stringValue == "succeeded")
        #expect(context[path: "results.snapshot"] != nil)
        #expect(context[path: "results.agent.note"]?.stringValue == "done")
        // What each agent recorded about its own step survives the step's completion.
        #expect(context[path: "results.content.summary"]?.stringValue == "fake edit")
        #expect(context[path: "results.polish.summary"]?.stringValue == "fake edit")
        #expect(context[path: "results.content.state"]?.stringValue == "done")
        #expect(context[path: "workflow.state"]?.stringValue == "done")
        #expect(context[path: "workflow.stepIndex"]?.intValue == 6)
        #expect(try fixture.stepStarts(taskId) == ["scaffold": 1, "content": 1, "polish": 1, "build": 1, "preview": 1, "snapshot": 1])

        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// A prompt placeholder with no value fails the run at that step, naming placeholder, file and line.
    @Test(.timeLimit(.minutes(1))) func missingPlaceholderFailsTheStepAndNothingAfterItRuns() async throws {
        let fixture = try RunFixture("run-placeholder", config: #""agent": {"command": \#(RunFixture.fakeAgentCommand)}"#)
        defer { fixture.remove() }
        let prompt = "Edit the site of {{client.name}}.\n\nTheir motto: {{client.nonexistent}}\n"
        try Data(prompt.utf8).write(to: fixture.ws.appendingPathComponent("prompts/content.md"))
        let result = try await offPool { try fixture.demoforge(["run", fixture.slug, "--json"]) }
        #expect(result.status == 1)
        let expected = "prompts/content.md:3: placeholder {{client.nonexistent}} has no value in the client's context"
        let taskId = try #require(fixture.taskIds().first)
        let status = try fixture.status(taskId)
        #expect(status[path: "state"]?.stringValue == "FAILED")
        #expect(status[path: "error"]?.stringValue?.contains(expected) == true)
        let failed = try fixture.events(taskId).filter { $0[path: "type"]?.stringValue == "step-failed" }
        #expect(failed.count == 1)
        #expect(failed.first?[path: "step"]?.stringValue == "content")
        #expect(failed.first?[path: "message"]?.stringValue?.contains(expected) == true)
        #expect(try fixture.stepStarts(taskId) == ["scaffold": 1, "content": 1])

        let context = try fixture.context()
        #expect(context[path: "workflow.state"]?.stringValue == "failed")
        #expect(context[path: "workflow.steps.content.state"]?.stringValue == "failed")
        #expect(context[path: "results.content"] == nil)
        #expect(context[path: "results.agent"] == nil)
        #expect(context[path: "results.build"] == nil)
        #expect(!FileManager.default.fileExists(atPath: fixture.clientFolder.appendingPathComponent("public").path))
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// Without an agent, agent steps are skipped with a hint and the run still ends DONE.
    @Test(.timeLimit(.minutes(2))) func agentStepsAreSkippedWithoutAnAgent() async throws {
        let fixture = try RunFixture("run-noagent")
        defer { fixture.remove() }
        let result = try await offPool { try fixture.demoforge(["run", fixture.slug]) }
        #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        let taskId = try #require(fixture.taskIds().first)
        let events = try fixture.events(taskId)
        let skipped = events.filter { $0[path: "type"]?.stringValue == "step-skipped" }.compactMap { $0[path: "step"]?.stringValue }
        #expect(skipped == ["content", "polish"])
        let hint = "no agent configured: set agent.command (an argv with {{prompt}} or {{promptFile}}) or agent.preset (claude-code, codex, aider, gemini) in demoforge.json"
        let hints = events.filter { $0[path: "type"]?.stringValue == "output" && $0[path: "message"]?.stringValue == hint }
        #expect(hints.compactMap { $0[path: "step"]?.stringValue } == ["content", "polish"])
        let context = try fixture.context()
        #expect(context[path: "workflow.steps.content.state"]?.stringValue == "skipped")
        #expect(context[path: "workflow.steps.polish.state"]?.stringValue == "skipped")
        #expect(context[path: "results.content.state"]?.stringValue == "skipped")
        #expect(context[path: "results.build.state"]?.stringValue == "succeeded")
        #expect(try fixture.status(taskId)[path: "state"]?.stringValue == "DONE")
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// Two `run`s of one client at once: one runs, the other exits 2 naming it; `--follow` attaches and exits
    /// with the running task's result; no step runs twice.
    @Test(.timeLimit(.minutes(1))) func secondRunIsRefusedOrFollows() async throws {
        let fixture = try RunFixture(
            "run-twice", config: #""agent": {"command": \#(RunFixture.fakeAgentCommand)}"#, steps: ["scaffold", "content", "build"])
        defer { fixture.remove() }
        let gate = fixture.folder.url.appendingPathComponent("gate")
        let env = ["FAKE_AGENT_GATE": gate.path]
        let first = try fixture.start(["run", fixture.slug], environment: env)
        let second = try fixture.start(["run", fixture.slug], environment: env)
        // The loser exits at once; the winner waits at the agent's gate.
        #expect(await ProcessInspection.eventually(30) { !first.isRunning || !second.isRunning })
        let (loser, winner) = first.isRunning ? (second, first) : (first, second)
        #expect(winner.isRunning)
        #expect(try await exitStatus(loser) == 2)
        let taskId = try #require(fixture.taskIds().first)
        #expect(fixture.taskIds() == [taskId])
        let loserErr = drain(loser.standardError)
        #expect(loserErr.contains("Client acme already has a running task \(taskId) (pid \(winner.processIdentifier))"))

        let follower = try fixture.start(["run", fixture.slug, "--follow", "--json"], environment: env)
        let followerErr = LineSource(follower.standardError as! Pipe)
        let followerOut = LineSource(follower.standardOutput as! Pipe)
        #expect(try await offPool { followerErr.waitFor("following the running task \(taskId)") } != nil)
        #expect(try await offPool { followerOut.waitFor("\"type\":\"run-started\"") } != nil)
        try Data().write(to: gate)

        #expect(try await exitStatus(winner) == 0)
        let rest = try await offPool { () -> [String] in
            var lines: [String] = []
            while let line = followerOut.next() { lines.append(line) }
            return lines
        }
        #expect(try await exitStatus(follower) == 0)
        #expect(rest.contains { $0.contains("\"type\":\"run-finished\"") && $0.contains("run DONE") })
        #expect(try fixture.stepStarts(taskId) == ["scaffold": 1, "content": 1, "build": 1])
        #expect(fixture.taskIds() == [taskId])
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }

    /// A follower (`logs --follow`) ends at the terminal status; every event of the run, `run-finished` included,
    /// must be stored before that status. Made deterministic by a `run` whose stdout nobody reads yet: its
    /// event printing blocks, so events queue up while the run reaches its end.
    @Test(.timeLimit(.minutes(1))) func terminalStatusComesAfterTheLastEvent() async throws {
        let fixture = try RunFixture("run-order")
        defer { fixture.remove() }
        let workflow = #"{"name": "demo", "steps": [{"id": "chatty", "kind": "command", "argv": ["seq", "1", "5000"]}]}"#
        try Data(workflow.utf8).write(to: fixture.ws.appendingPathComponent("workflows/demo.json"))
        let run = try fixture.start(["run", fixture.slug, "--json"])
        #expect(await ProcessInspection.eventually(20) { !fixture.taskIds().isEmpty })
        let taskId = try #require(fixture.taskIds().first)
        let follower = try fixture.start(["logs", taskId, "--follow", "--json"])
        let followed = Task { try await offPool { drain(follower.standardOutput) } }
        // Before the fix the status became DONE here, with run-finished still queued behind the blocked printer.
        _ = await ProcessInspection.eventually(3) { !follower.isRunning }
        let printed = try await offPool { drain(run.standardOutput) }
        #expect(try await exitStatus(run) == 0)
        #expect(try await exitStatus(follower) == 0)
        let lines = try await followed.value.split(separator: "\n")
        #expect(lines.count == 5004)
        #expect(lines.last?.contains("\"type\":\"run-finished\"") == true)
        #expect(printed.split(separator: "\n").count == 5004)
        #expect(try fixture.events(taskId).count == 5004)
        #expect(fixture.leftovers() == [])
        #expect(fixture.liveProcesses() == [])
    }
}
