import DemoForgeTesting
import Foundation
import Testing

@Suite struct FoundationCLITests {
    @Test func initClientAddContextRoundTrip() throws {
        let folder = TemporaryFolder("cli")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        #expect(try CommandRunner.demoforge(["init", ws.path]).status == 0)
        let again = try CommandRunner.demoforge(["init", ws.path])
        #expect(again.status == 2)
        #expect(again.stderr.contains("is already a DemoForge workspace"))
        let brief = CommandRunner.packageRoot.appendingPathComponent("examples/briefs/acme-plumbing.json").path
        #expect(try CommandRunner.demoforge(["client", "add", "acme-plumbing", "--brief", brief], cwd: ws).status == 0)
        let name = try CommandRunner.demoforge(["context", "get", "acme-plumbing", "client.name"], cwd: ws)
        #expect(name.status == 0)
        #expect(name.stdout == "Acme Plumbing & Heating\n")
        let set = try CommandRunner.demoforge(
            ["context", "set", "acme-plumbing", "notes.hero=Big \"hero\"", "notes.count=3", #"notes.list=["a","b"]"#],
            environment: ["DEMOFORGE_WORKSPACE": ws.path])
        #expect(set.stdout == "acme-plumbing: version 2\n")
        let notes = try CommandRunner.demoforge(["context", "get", "acme-plumbing", "notes", "--json"], workspace: ws)
        #expect(notes.stdout == "{\n  \"count\": 3,\n  \"hero\": \"Big \\\"hero\\\"\",\n  \"list\": [\n    \"a\",\n    \"b\"\n  ]\n}\n")
    }

    @Test func badUsageAndBadInputExitTwo() throws {
        let folder = TemporaryFolder("cli-bad")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        let slug = try CommandRunner.demoforge(["client", "add", "../etc", "--name", "X"], workspace: ws)
        #expect(slug.status == 2)
        #expect(slug.stderr.contains("Invalid client slug \"../etc\""))
        let both = try CommandRunner.demoforge(["client", "add", "x", "--name", "X", "--brief", "b.json"], workspace: ws)
        #expect(both.status == 2)
        let badBrief = folder.url.appendingPathComponent("brief.json")
        try Data("{\"name\": }".utf8).write(to: badBrief)
        let parsed = try CommandRunner.demoforge(["client", "add", "x", "--brief", badBrief.path], workspace: ws)
        #expect(parsed.status == 2)
        #expect(parsed.stderr.contains("is not valid JSON: Unexpected '}', expected a value at line 1, column 10"))
        #expect(try CommandRunner.demoforge(["nonsense"], workspace: ws).status == 2)
        #expect(try CommandRunner.demoforge(["client", "list", "--bogus"], workspace: ws).status == 2)
        #expect(try CommandRunner.demoforge(["client", "list", "--help"]).status == 0)
    }

    @Test(arguments: [
        (#"{"build": {"inactivityTimeoutSeconds": -1}}"#, "build.inactivityTimeoutSeconds = -1 is not allowed"),
        (#"{"ports": {"from": 9000, "to": 8000}}"#, "ports.from = 9000 is greater than ports.to = 8000"),
        (#"{"ports": {"from": 0}}"#, "ports.from = 0 is not allowed; allowed: an integer from 1 to 65535"),
        (#"{"locks": {"timeoutSecs": 3}}"#, "unknown key locks.timeoutSecs"),
        (#"{"sse": {"heartbeatSeconds": "15"}}"#, "sse.heartbeatSeconds = \"15\" is a string"),
        ("{\n\"ports\": [\n", "is not valid JSON: Unexpected end of input, expected a value at line 3, column 1"),
    ])
    func badConfigStopsEveryCommandWithExitTwo(config: String, message: String) throws {
        let folder = TemporaryFolder("cli-config")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        try Data(config.utf8).write(to: ws.appendingPathComponent("demoforge.json"))
        let check = try CommandRunner.demoforge(["config", "check"], workspace: ws)
        #expect(check.status == 2)
        #expect(check.stderr.contains(message))
        // Nothing happens before the config is valid: no client is created.
        let add = try CommandRunner.demoforge(["client", "add", "acme", "--name", "Acme"], workspace: ws)
        #expect(add.status == 2)
        #expect(!FileManager.default.fileExists(atPath: ws.appendingPathComponent("client-websites/acme").path))
    }

    @Test func newerSchemaIsRefusedByTheCLIAndTheFileIsUnchanged() throws {
        let folder = TemporaryFolder("cli-schema")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        _ = try CommandRunner.demoforge(["client", "add", "acme", "--name", "Acme"], workspace: ws)
        let file = ws.appendingPathComponent("client-websites/acme/demo.context.json")
        let text = #"{"schemaVersion": 99, "version": 1, "client": {"name": "Acme"}}"#
        try Data(text.utf8).write(to: file)
        let set = try CommandRunner.demoforge(["context", "set", "acme", "a=1"], workspace: ws)
        #expect(set.status == 2)
        #expect(set.stderr.contains("has schemaVersion 99, newer than this demoforge understands (1)"))
        #expect(try String(contentsOf: file, encoding: .utf8) == text)
    }
}
