import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

/// Problems a newcomer found on a fresh clone, each pinned by its exact input.
@Suite(.serialized) struct NewcomerFindingsTests {
    /// `demoforge logs ID | head -c 1`: the reader leaves; the command must end quietly, not crash (was SIGILL 132).
    @Test(.timeLimit(.minutes(2))) func closedStdoutDoesNotCrashTheCommand() async throws {
        let folder = TemporaryFolder("epipe")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        let id = try CommandRunner.demoforge(["__task", "create", "acme", "build"], workspace: ws).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try CommandRunner.demoforge(["__task", "append", id, "output", String(repeating: "x", count: 200), "--count", "2000"], workspace: ws)
        let script = "set -o pipefail; \"$1\" --workspace \"$2\" logs \"$3\" | head -c 1 >/dev/null; echo \"status=${PIPESTATUS[0]}\""
        let result = try await offPool {
            try CommandRunner.run("/bin/bash", ["-c", script, "bash", CommandRunner.demoforgeBinary, ws.path, id])
        }
        #expect(result.stdout == "status=0\n")
        #expect(!result.stderr.contains("Fatal error"))
    }

    /// A step that fails is recorded as failed, with a duration, in the task's status (it stayed "running").
    @Test(.timeLimit(.minutes(1))) func failedStepIsRecordedAsFailed() async throws {
        let folder = TemporaryFolder("failed-step")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        try Data(#"{"ports": {"from": 18600, "to": 18610}}"#.utf8).write(to: ws.appendingPathComponent("demoforge.json"))
        let workflow = #"{"name": "demo", "steps": [{"id": "c", "kind": "command", "argv": ["sh", "-c", "echo hi; exit 4"]}]}"#
        try Data(workflow.utf8).write(to: ws.appendingPathComponent("workflows/demo.json"))
        _ = try CommandRunner.demoforge(["client", "add", "bakery", "--name", "Bakery"], workspace: ws)
        let run = try await offPool { try CommandRunner.demoforge(["run", "bakery"], workspace: ws) }
        #expect(run.status == 1)
        #expect(run.stdout.contains("== bakery: FAILED — c: sh exited with status 4"))
        let tasks = try CommandRunner.demoforge(["tasks", "--json"], workspace: ws)
        let status = try JSONValue.parse(tasks.stdout)[path: "0"]
        #expect(status?[path: "details.steps.c.state"] == .string("failed"))
        #expect(status?[path: "details.steps.c.durationSeconds"]?.doubleValue != nil)
    }

    /// `logs --follow` on a RUNNING task whose process died ends with a hint instead of waiting forever.
    @Test(.timeLimit(.minutes(1))) func followOfAnOrphanedRunningTaskEnds() async throws {
        let folder = TemporaryFolder("orphan-follow")
        defer { folder.remove() }
        let ws = folder.url.appendingPathComponent("shop")
        _ = try CommandRunner.demoforge(["init", ws.path])
        // Created and set RUNNING by short-lived processes: its owner is dead.
        let id = try CommandRunner.demoforge(["__task", "create", "acme", "run"], workspace: ws).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try CommandRunner.demoforge(["__task", "state", id, "RUNNING"], workspace: ws)
        let started = Date()
        let result = try await offPool { try CommandRunner.demoforge(["logs", id, "--follow"], workspace: ws) }
        #expect(result.status == 1)
        #expect(result.stderr.contains("task \(id) is RUNNING but its process"))
        #expect(result.stderr.contains("resume it with `demoforge run acme`"))
        #expect(Date().timeIntervalSince(started) < 10)
        let listed = try CommandRunner.demoforge(["tasks"], workspace: ws)
        #expect(listed.stdout.contains("RUNNING (owner pid"))
    }

    /// A subcommand family without its subcommand lists the choices (exit 2).
    @Test func familyWithoutSubcommandListsChoices() throws {
        let result = try CommandRunner.demoforge(["client"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("demoforge client add"))
        #expect(result.stderr.contains("demoforge client list"))
    }
}
