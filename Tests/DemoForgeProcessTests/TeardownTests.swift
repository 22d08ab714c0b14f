import DemoForgeSystem
import Foundation
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

extension ProcessTests {
    @Suite struct Teardown {
        /// Level 3 ignores SIGTERM: node with a handler, or sh with `trap '' TERM` (its `sleep` inherits the ignore).
        @Test(arguments: [
            "node ./level3.js",
            "sh -c 'trap \"\" TERM; echo \"L3 $$\"; while :; do sleep 1; done'",
        ])
        func threeLevelTreeIgnoringSigtermIsKilled(level3: String) async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            try folder.write("level1.sh", "echo \"L1 $$\"\nsh ./level2.sh\necho level1 after\n")
            try folder.write("level2.sh", "echo \"L2 $$\"\n\(level3)\n")
            try folder.write(
                "level3.js",
                """
                process.on('SIGTERM', () => {});
                process.stdout.write('L3 ' + process.pid + '\\n');
                setInterval(() => {}, 1000);
                """)
            let log = LineLog()
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "./level1.sh"], workingDirectory: folder.path),
                options: SupervisionOptions(inactivityTimeoutSeconds: 1.5, terminationGraceSeconds: 1),
                onOutput: log.append)
            let pids = log.texts.compactMap { text -> Int32? in
                let parts = text.split(separator: " ")
                guard parts.count == 2, parts[0].hasPrefix("L") else { return nil }
                return Int32(parts[1])
            }
            #expect(pids.count == 3)
            #expect(result.stopReason == .inactivityTimeout(seconds: 1.5))
            #expect(result.killEscalated)
            #expect(result.groupEmptyConfirmed)
            #expect(groupGone(result.pid))
            for pid in pids { #expect(pidGone(pid)) }
        }

        @Test func backgroundChildOutlivingLeaderIsTornDownPromptly() async throws {
            let began = monotonicSeconds()
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", "sleep 300 & echo $!; echo started; exit 3"]))
            let elapsed = monotonicSeconds() - began
            #expect(result.stopReason == .exited)
            #expect(result.exitStatus == .exited(3))
            #expect(result.message == "exited with status 3")
            #expect(elapsed < 2)
            #expect(!result.killEscalated)
            let child = try #require(result.lines.first.flatMap { Int32($0.text) })
            #expect(result.lines.map(\.text).last == "started")
            #expect(pidGone(child))
            #expect(groupGone(result.pid))
        }

        @Test func grandchildHoldingPipeDoesNotHang() async throws {
            // The grandchild leaves the group (setsid) and keeps stdout open: we must not wait for EOF.
            let began = monotonicSeconds()
            let result = try await ProcessSupervisor().run(
                ProcessSpec([
                    "sh", "-c",
                    // Wait until the child has really left our group before the leader exits.
                    "setsid sleep 3 & p=$!; while [ \"$(ps -o pgid= -p $p | tr -d ' ')\" != \"$p\" ]; do :; done; "
                        + "echo $p; echo leader done",
                ]))
            #expect(monotonicSeconds() - began < 2)
            #expect(result.succeeded)
            #expect(result.lines.map(\.text).last == "leader done")
            // The escaped process is now our child (we are a subreaper): end and reap it.
            let escaped = try #require(result.lines.first.flatMap { Int32($0.text) })
            kill(escaped, SIGKILL)
            var status: Int32 = 0
            #expect(waitpid(escaped, &status, 0) == escaped)
        }

        @Test func explicitTerminateStopsTheGroup() async throws {
            let supervisor = ProcessSupervisor()
            let log = LineLog()
            let process = try await supervisor.start(
                ProcessSpec(["sh", "-c", "echo ready; sleep 120"]), onOutput: log.append)
            #expect(supervisor.runningCount == 1)
            await log.waitForLine(startingWith: "ready")
            process.terminate()
            let result = await process.wait()
            #expect(result.stopReason == .stopped)
            #expect(result.message == "stopped")
            #expect(!process.isRunning)
            #expect(groupGone(process.pid))
            #expect(supervisor.runningCount == 0)
        }

        @Test func cancellingTheAwaitingTaskTearsTheGroupDown() async throws {
            let supervisor = ProcessSupervisor()
            let log = LineLog()
            let task = Task {
                try await supervisor.run(ProcessSpec(["sh", "-c", "echo started; sleep 120"]), onOutput: log.append)
            }
            await log.waitForLine(startingWith: "started")
            let began = monotonicSeconds()
            task.cancel()
            let result = try await task.value
            #expect(monotonicSeconds() - began < 2)
            #expect(result.stopReason == .cancelled)
            #expect(result.message == "cancelled")
            #expect(groupGone(result.pid))
        }

        @Test func shutdownStopsEveryLiveGroup() async throws {
            let supervisor = ProcessSupervisor()
            let first = try await supervisor.start(ProcessSpec(["sleep", "120"]))
            let second = try await supervisor.start(ProcessSpec(["sleep", "120"]))
            #expect(supervisor.runningCount == 2)
            await supervisor.shutdown()
            #expect(supervisor.runningCount == 0)
            #expect(groupGone(first.pid))
            #expect(groupGone(second.pid))
            await #expect(throws: ProcessError.self) { try await supervisor.start(ProcessSpec(["true"])) }
        }
    }
}
