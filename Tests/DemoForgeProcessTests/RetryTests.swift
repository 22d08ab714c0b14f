import DemoForgeSystem
import Foundation
import Synchronization
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

/// Collects retry events.
final class EventLog: Sendable {
    let events = Mutex<[ProcessEvent]>([])
    @Sendable func append(_ event: ProcessEvent) { events.withLock { $0.append(event) } }

    var announcedDelays: [Double] {
        events.withLock { list in
            list.compactMap { if case .retrying(_, let delay, _) = $0 { return delay } else { return nil } }
        }
    }
}

extension ProcessTests {
    @Suite struct Retry {
        @Test func failsTwiceThenSucceedsWithBackoff() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let script = """
                n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
                echo "attempt $n"
                [ $n -ge 3 ] || exit 1
                """
            let log = EventLog()
            let report = await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", script], workingDirectory: folder.path),
                retry: RetryPolicy(maxAttempts: 5, initialDelaySeconds: 1, multiplier: 2, maxDelaySeconds: 30),
                onEvent: log.append)
            #expect(report.outcome == .succeeded)
            #expect(report.attempts.count == 3)
            #expect(report.message == "succeeded after 3 attempts")
            let announced = log.announcedDelays
            #expect(announced.count == 2)
            #expect(report.waitedSeconds.count == 2)
            if announced.count == 2 && report.waitedSeconds.count == 2 {
                #expect(announced[0] >= 0.8 && announced[0] <= 1.2)
                #expect(announced[1] >= 1.6 && announced[1] <= 2.4)
                #expect(report.waitedSeconds[0] >= 0.8 && report.waitedSeconds[0] <= 1.2 + 0.4)
                #expect(report.waitedSeconds[1] >= 1.6 && report.waitedSeconds[1] <= 2.4 + 0.4)
            }
            let outputs = log.events.withLock { list in
                list.compactMap {
                    if case .output(let attempt, let line) = $0 { return "\(attempt):\(line.text)" } else { return nil }
                }
            }
            #expect(outputs == ["1:attempt 1", "2:attempt 2", "3:attempt 3"])
            let statuses = report.attempts.map { record -> TerminationStatus? in
                if case .finished(let result) = record.outcome { return result.exitStatus }
                return nil
            }
            #expect(statuses == [.exited(1), .exited(1), .exited(0)])
        }

        @Test func execFailureIsNamedAndNotRetried() async throws {
            let report = await ProcessSupervisor().run(
                ProcessSpec(["no-such-binary-xyz"]), retry: RetryPolicy(maxAttempts: 3, initialDelaySeconds: 0.1))
            #expect(report.outcome == .failed)
            #expect(report.attempts.count == 1)
            #expect(report.waitedSeconds.isEmpty)
            guard case .failedToStart(let error)? = report.attempts.first?.outcome else {
                Issue.record("expected a start failure")
                return
            }
            #expect(error.code == .execFailed)
            #expect(error.program == "no-such-binary-xyz")
            #expect(error.message == "cannot run no-such-binary-xyz: not found in PATH")
            #expect(report.message == "failed after 1 attempt: cannot run no-such-binary-xyz: not found in PATH")
        }

        @Test func inactivityTimeoutIsRetriedMaxDurationIsNot() async throws {
            let supervisor = ProcessSupervisor()
            let hanging = await supervisor.run(
                ProcessSpec(["sh", "-c", "echo hang; sleep 120"]),
                options: SupervisionOptions(inactivityTimeoutSeconds: 0.5),
                retry: RetryPolicy(maxAttempts: 2, initialDelaySeconds: 0.1))
            #expect(hanging.outcome == .failed)
            #expect(hanging.attempts.count == 2)
            #expect(hanging.lastResult?.stopReason == .inactivityTimeout(seconds: 0.5))
            let long = await supervisor.run(
                ProcessSpec(["sh", "-c", "while :; do echo tick; sleep 0.1; done"]),
                options: SupervisionOptions(maxDurationSeconds: 0.5),
                retry: RetryPolicy(maxAttempts: 3, initialDelaySeconds: 0.1))
            #expect(long.outcome == .failed)
            #expect(long.attempts.count == 1)
            #expect(long.lastResult?.stopReason == .maxDuration(seconds: 0.5))
        }

        @Test func cancellationDuringBackoffReturnsAtOnce() async throws {
            let (stream, continuation) = AsyncStream<Void>.makeStream()
            let task = Task {
                await ProcessSupervisor().run(
                    ProcessSpec(["sh", "-c", "exit 1"]), retry: RetryPolicy(maxAttempts: 3, initialDelaySeconds: 10),
                    onEvent: { event in if case .retrying = event { continuation.yield() } })
            }
            for await _ in stream { break }
            let began = monotonicSeconds()
            task.cancel()
            let report = await task.value
            #expect(monotonicSeconds() - began < 0.5)
            #expect(report.outcome == .cancelled)
            #expect(report.attempts.count == 1)
            #expect(report.waitedSeconds.count == 1)
            #expect((report.waitedSeconds.first ?? 99) < 0.5)
        }

        @Test func cancellationDuringAttemptTearsDownTheGroup() async throws {
            let (stream, continuation) = AsyncStream<Int32>.makeStream()
            let task = Task {
                await ProcessSupervisor().run(
                    ProcessSpec(["sh", "-c", "sleep 120 & echo started; wait"]),
                    retry: RetryPolicy(maxAttempts: 3, initialDelaySeconds: 0.1),
                    onEvent: { event in
                        if case .attemptStarted(_, let pid) = event { continuation.yield(pid) }
                    })
            }
            var pgid: Int32 = 0
            for await pid in stream {
                pgid = pid
                break
            }
            task.cancel()
            let report = await task.value
            #expect(report.outcome == .cancelled)
            #expect(report.attempts.count == 1)
            #expect(report.lastResult?.stopReason == .cancelled)
            #expect(pgid > 0 && groupGone(pgid))
        }

        @Test func delaysGrowCapAndJitterWithinTwentyPercent() {
            let policy = RetryPolicy(maxAttempts: 6, initialDelaySeconds: 1, multiplier: 2, maxDelaySeconds: 5)
            #expect(policy.baseDelay(afterAttempt: 1) == 1)
            #expect(policy.baseDelay(afterAttempt: 2) == 2)
            #expect(policy.baseDelay(afterAttempt: 3) == 4)
            #expect(policy.baseDelay(afterAttempt: 4) == 5)
            #expect(policy.delay(afterAttempt: 1, unit: 1) == 1.2)
            #expect(policy.delay(afterAttempt: 1, unit: -1) == 0.8)
            #expect(policy.delay(afterAttempt: 2, unit: 0) == 2)
            #expect(policy.delay(afterAttempt: 4, unit: 1) == 5)
            for _ in 0..<100 {
                let delay = policy.delay(afterAttempt: 2)
                #expect(delay >= 1.6 && delay <= 2.4)
            }
        }
    }
}
