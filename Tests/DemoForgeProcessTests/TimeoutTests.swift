import DemoForgeSystem
import Foundation
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

extension ProcessTests {
    @Suite struct Timeouts {
        @Test func silentProcessTimesOutByInactivity() async throws {
            let supervisor = ProcessSupervisor()
            let descriptorsBefore = openDescriptorCount()
            let began = monotonicSeconds()
            let result = try await supervisor.run(
                ProcessSpec(["sh", "-c", "sleep 120; echo done"]),
                options: SupervisionOptions(inactivityTimeoutSeconds: 2))
            let elapsed = monotonicSeconds() - began
            #expect(result.stopReason == .inactivityTimeout(seconds: 2))
            #expect(result.message == "timed out: no output for 2 s")
            #expect(result.stopReason.name == "inactivityTimeout")
            #expect(elapsed < 6)
            #expect(result.durationSeconds >= 2)
            #expect(result.lines.isEmpty)
            #expect(result.groupEmptyConfirmed)
            #expect(groupGone(result.pid))
            #expect(supervisor.runningCount == 0)
            // Pipes, pidfd and wake pipe are closed.
            #expect(openDescriptorCount() == descriptorsBefore)
        }

        @Test func lineThenHangIsKilledAtInactivityTimeoutAndLineKept() async throws {
            let supervisor = ProcessSupervisor()
            let result = try await supervisor.run(
                ProcessSpec(["sh", "-c", "echo first line; sleep 120"]),
                options: SupervisionOptions(inactivityTimeoutSeconds: 2))
            #expect(result.stopReason == .inactivityTimeout(seconds: 2))
            #expect(result.durationSeconds >= 1 && result.durationSeconds <= 3)
            #expect(result.lines.map(\.text) == ["first line"])
            #expect(result.lines.first?.stream == .stdout)
            #expect(result.exitStatus == .signaled(SIGTERM))
            #expect(groupGone(result.pid))
        }

        @Test func burstsWithSilenceShorterThanTimeoutSucceed() async throws {
            let script = """
                i=0; while [ $i -lt 50 ]; do echo a$i; i=$((i+1)); done
                sleep 1.5
                i=0; while [ $i -lt 50 ]; do echo b$i; i=$((i+1)); done
                exit 0
                """
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", script]), options: SupervisionOptions(inactivityTimeoutSeconds: 2))
            #expect(result.succeeded)
            #expect(result.stopReason == .exited)
            #expect(result.lineCount == 100)
            #expect(result.lines.count == 100)
            #expect(result.lines.first?.text == "a0")
            #expect(result.lines.last?.text == "b49")
        }

        @Test func carriageReturnOnlyProgressResetsInactivity() async throws {
            // 5 s of progress written with \r only, a byte every 0.5 s, against a 2 s inactivity timeout.
            let script = #"i=0; while [ $i -lt 10 ]; do printf "%d%%\r" $i; sleep 0.5; i=$((i+1)); done"#
            let log = LineLog()
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", script]), options: SupervisionOptions(inactivityTimeoutSeconds: 2),
                onOutput: log.append)
            #expect(result.stopReason == .exited)
            #expect(result.succeeded)
            #expect(result.durationSeconds >= 4.5)
            #expect(log.texts == (0..<10).map { "\($0)%" })
        }

        @Test func maximumDurationStopsAChattyProcess() async throws {
            // Output every 0.2 s keeps the 2 s inactivity timer from firing; the 3 s total limit fires.
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", "while :; do echo tick; sleep 0.2; done"]),
                options: SupervisionOptions(inactivityTimeoutSeconds: 2, maxDurationSeconds: 3))
            #expect(result.stopReason == .maxDuration(seconds: 3))
            #expect(result.message == "timed out: still running after 3 s")
            #expect(result.stopReason.name == "maxDuration")
            #expect(result.durationSeconds >= 3 && result.durationSeconds < 4.5)
            #expect(result.lines.first?.text == "tick")
            #expect(groupGone(result.pid))
        }

        @Test func partialTrailingOutputIsKeptWhenKilled() async throws {
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", "printf 'no newline'; sleep 120"]),
                options: SupervisionOptions(inactivityTimeoutSeconds: 1))
            #expect(result.stopReason == .inactivityTimeout(seconds: 1))
            #expect(result.lines.map(\.text) == ["no newline"])
        }
    }
}
