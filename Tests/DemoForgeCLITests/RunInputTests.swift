import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

/// `demoforge run` with bad input (exit 2, nothing started) and the agent argv substitution.
@Suite struct RunInputTests {
    @Test(.timeLimit(.minutes(1))) func unknownClientAndBadWorkflowsExitTwoAndStartNothing() async throws {
        let fixture = try RunFixture("run-badinput")
        defer { fixture.remove() }
        let noClient = try await offPool { try fixture.demoforge(["run", "nosuch"]) }
        #expect(noClient.status == 2)
        #expect(noClient.stderr.contains("No client \"nosuch\" in \(fixture.ws.path)"))

        let cases: [(String, String)] = [
            (
                #"[{"id": "ship", "kind": "deploy"}]"#,
                #"workflows/demo.json: step "ship": unknown kind "deploy"; allowed: agent, build, command, preview, scaffold, snapshot"#
            ),
            (
                #"[{"id": "build", "kind": "build"}, {"id": "build", "kind": "preview"}]"#,
                #"workflows/demo.json: step "build": duplicate step id "build""#
            ),
            (
                #"[{"id": "content", "kind": "agent", "prompt": "prompts/missing.md"}]"#,
                #"workflows/demo.json: step "content": prompt file "prompts/missing.md" does not exist"#
            ),
        ]
        for (steps, expected) in cases {
            try Data(#"{"name": "demo", "steps": \#(steps)}"#.utf8).write(to: fixture.ws.appendingPathComponent("workflows/demo.json"))
            let result = try await offPool { try fixture.demoforge(["run", fixture.slug]) }
            #expect(result.status == 2)
            #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        }
        #expect(fixture.taskIds() == [])
        #expect(try fixture.context()[path: "workflow"] == [:])
    }

    /// `{{prompt}}` becomes the rendered prompt as one argv element (no shell); a step's own `agent` wins over
    /// `agent.command`.
    @Test(.timeLimit(.minutes(1))) func stepAgentOverrideGetsTheRenderedPromptAsOneArgument() async throws {
        let fixture = try RunFixture("run-prompt", config: #""agent": {"command": ["false"]}"#)
        defer { fixture.remove() }
        let prompt = "Site for {{client.name}}; call {{client.phone}}.\n$(touch pwned) `touch pwned2`\n"
        try Data(prompt.utf8).write(to: fixture.ws.appendingPathComponent("prompts/custom.md"))
        let workflow = #"""
            {"name": "demo", "steps": [{"id": "write", "kind": "agent", "prompt": "prompts/custom.md",
              "agent": ["sh", "-c", "printf '%s' \"$1\" > got-prompt.txt; cp \"$2\" got-file.txt", "sh", "{{prompt}}", "{{promptFile}}"]}]}
            """#
        try Data(workflow.utf8).write(to: fixture.ws.appendingPathComponent("workflows/demo.json"))
        let result = try await offPool { try fixture.demoforge(["run", fixture.slug]) }
        #expect(result.status == 0, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        let rendered = "Site for Acme Plumbing & Heating; call (555) 014-2368.\n$(touch pwned) `touch pwned2`\n"
        #expect(try String(contentsOf: fixture.clientFolder.appendingPathComponent("got-prompt.txt"), encoding: .utf8) == rendered)
        #expect(try String(contentsOf: fixture.clientFolder.appendingPathComponent("got-file.txt"), encoding: .utf8) == rendered)
        #expect(!FileManager.default.fileExists(atPath: fixture.clientFolder.appendingPathComponent("pwned").path))
        #expect(!FileManager.default.fileExists(atPath: fixture.clientFolder.appendingPathComponent("pwned2").path))
        #expect(try fixture.context()[path: "results.write.state"]?.stringValue == "done")
        #expect(fixture.leftovers() == [])
    }
}
