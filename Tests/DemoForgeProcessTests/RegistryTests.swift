import DemoForgeStore
import DemoForgeSystem
import Foundation
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

extension ProcessTests {
    @Suite struct CrashReaping {
        /// An owner identity that is certainly dead: our pid with another start time (a "reused" pid).
        static let deadOwner = ProcessIdentity(pid: getpid(), startTime: ProcessIdentity.current.startTime + 1)

        @Test func liveGroupIsRecordedAndRecordRemovedWhenGone() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path + "/procs"))
            let supervisor = ProcessSupervisor(registry: registry)
            let process = try await supervisor.start(ProcessSpec(["sleep", "120"]))
            let entries = registry.records()
            #expect(entries.count == 1)
            let record = try #require(entries.first?.record)
            #expect(record.pgid == process.pid)
            #expect(
                record.leader
                    == ProcessIdentity(pid: process.pid, startTime: ProcessIdentity.startTime(of: process.pid) ?? 0))
            #expect(record.owner == ProcessIdentity.current)
            #expect(record.argv == ["sleep", "120"])
            #expect(
                ProcessGroupProbe.environment(
                    of: process.pid, contains: "DEMOFORGE_SUPERVISION_TOKEN", value: record.token))
            process.terminate()
            _ = await process.wait()
            #expect(registry.records().isEmpty)
            #expect(!FileManager.default.fileExists(atPath: registry.url(for: process.pid).path))
        }

        @Test func deadOwnerLiveLeaderGroupIsTornDown() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            let log = LineLog()
            let process = try await ProcessSupervisor().start(
                ProcessSpec(["sh", "-c", "sleep 120 & echo up; wait"]), onOutput: log.append)
            await log.waitForLine(startingWith: "up")
            let leader = ProcessIdentity(
                pid: process.pid, startTime: try #require(ProcessIdentity.startTime(of: process.pid)))
            try registry.write(
                ProcessGroupRecord(
                    pgid: process.pid, leader: leader, argv: ["sh"], owner: Self.deadOwner, token: "t",
                    startedAt: Date()))
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            #expect(outcomes.map(\.action) == [.groupTornDown(killEscalated: false, confirmedEmpty: true)])
            #expect(registry.records().isEmpty)
            let result = await process.wait()
            #expect(result.exitStatus == .signaled(SIGTERM))
            #expect(groupGone(process.pid))
        }

        @Test func reusedLeaderPidIsNeverSignalled() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            let unrelated = try await ProcessSupervisor().start(ProcessSpec(["sleep", "120"]))
            let realStart = try #require(ProcessIdentity.startTime(of: unrelated.pid))
            // The record's leader had this pid but started at another time: the pid was reused since.
            try registry.write(
                ProcessGroupRecord(
                    pgid: unrelated.pid, leader: ProcessIdentity(pid: unrelated.pid, startTime: realStart - 1),
                    argv: ["npm", "run", "build"], owner: Self.deadOwner, token: "t", startedAt: Date()))
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            #expect(outcomes.map(\.action) == [.leaderPidReused])
            #expect(registry.records().isEmpty)
            #expect(ProcessIdentity(pid: unrelated.pid, startTime: realStart).isAlive)
            #expect(unrelated.isRunning)
            unrelated.terminate()
            let result = await unrelated.wait()
            #expect(result.stopReason == .stopped)
        }

        @Test func liveOwnerRecordIsUntouched() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            let process = try await ProcessSupervisor().start(ProcessSpec(["sleep", "120"]))
            let leader = ProcessIdentity(
                pid: process.pid, startTime: try #require(ProcessIdentity.startTime(of: process.pid)))
            try registry.write(
                ProcessGroupRecord(
                    pgid: process.pid, leader: leader, argv: ["sleep"], owner: .current, token: "t", startedAt: Date()))
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            #expect(outcomes.map(\.action) == [.ownerAlive])
            #expect(registry.records().count == 1)
            #expect(leader.isAlive)
            process.terminate()
            _ = await process.wait()
            registry.remove(pgid: process.pid)
        }

        @Test(arguments: [true, false])
        func leaderlessGroupMembersAreSignalledOnlyWhenVerified(tokenMatches: Bool) async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            // A raw group (no monitor): the leader starts a member and exits; we reap the leader ourselves.
            let child = try ProcessSpawner.spawn(ProcessSpec(["sh", "-c", "sleep 120 & exit 0"]), token: "token-A")
            defer {
                close(child.stdoutFD)
                close(child.stderrFD)
            }
            let leaderStart = try #require(ProcessIdentity.startTime(of: child.pid))
            var status: Int32 = 0
            #expect(waitpid(child.pid, &status, 0) == child.pid)
            let members = ProcessGroupProbe.liveMembers(of: child.pid)
            #expect(members.count == 1)
            let member = try #require(members.first)
            try registry.write(
                ProcessGroupRecord(
                    pgid: child.pid, leader: ProcessIdentity(pid: child.pid, startTime: leaderStart), argv: ["sh"],
                    owner: Self.deadOwner, token: tokenMatches ? "token-A" : "token-B", startedAt: Date()))
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            if tokenMatches {
                #expect(
                    outcomes.map(\.action) == [
                        .membersTornDown(signalled: [member.pid], unverified: [], killEscalated: false)
                    ])
                #expect(waitpid(member.pid, &status, 0) == member.pid)
                #expect(TerminationStatus(waitStatus: status) == .signaled(SIGTERM))
            } else {
                #expect(
                    outcomes.map(\.action) == [
                        .membersTornDown(signalled: [], unverified: [member.pid], killEscalated: false)
                    ])
                #expect(ProcessIdentity(pid: member.pid, startTime: member.startTime).isAlive)
                kill(member.pid, SIGKILL)
                #expect(waitpid(member.pid, &status, 0) == member.pid)
            }
            #expect(registry.records().isEmpty)
            #expect(groupGone(child.pid))
        }

        @Test func crashedOwnerLeavesGroupThatIsReapedNextTime() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            // The "owner" is a real process that starts its own session (like `demoforge build` does) and dies.
            let log = LineLog()
            let owner = try await ProcessSupervisor().start(
                ProcessSpec(["sh", "-c", "setsid sh -c 'echo leader $$; exec sleep 120' & wait"]), onOutput: log.append)
            await log.waitForLine(startingWith: "leader ")
            let leaderPid = try #require(log.texts.first { $0.hasPrefix("leader ") }.flatMap { Int32($0.dropFirst(7)) })
            let leader = ProcessIdentity(
                pid: leaderPid, startTime: try #require(ProcessIdentity.startTime(of: leaderPid)))
            let ownerIdentity = ProcessIdentity(
                pid: owner.pid, startTime: try #require(ProcessIdentity.startTime(of: owner.pid)))
            try registry.write(
                ProcessGroupRecord(
                    pgid: leaderPid, leader: leader, argv: ["npm", "run", "build"], owner: ownerIdentity, token: "t",
                    startedAt: Date()))
            kill(owner.pid, SIGKILL)
            let ownerResult = await owner.wait()
            #expect(ownerResult.exitStatus == .signaled(SIGKILL))
            #expect(!ownerIdentity.isAlive)
            #expect(leader.isAlive)
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            #expect(outcomes.map(\.action) == [.groupTornDown(killEscalated: false, confirmedEmpty: true)])
            #expect(registry.records().isEmpty)
            // The orphaned leader was re-parented to us (subreaper): collect it.
            var status: Int32 = 0
            #expect(waitpid(leaderPid, &status, 0) == leaderPid)
            #expect(TerminationStatus(waitStatus: status) == .signaled(SIGTERM))
            #expect(groupGone(leaderPid))
        }

        @Test func unwritableRegistryFailsTheStartAndLeavesNothing() async throws {
            let childrenBefore = childrenOfSelf()
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: "/dev/null/procs"))
            await #expect {
                try await ProcessSupervisor(registry: registry).start(ProcessSpec(["sleep", "120"]))
            } throws: { error in
                guard let error = error as? ProcessError else { return false }
                return error.code == .registry
                    && error.message.hasPrefix("cannot create process registry folder /dev/null/procs")
            }
            #expect(childrenOfSelf() == childrenBefore)
        }

        @Test func malformedRecordIsRemoved() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            try folder.write("12345.json", "{\"pgid\": 12345}")
            try folder.write("notes.txt", "keep me")
            let registry = ProcessGroupRegistry(folder: URL(fileURLWithPath: folder.path))
            let outcomes = await registry.reapOrphans(graceSeconds: 1)
            #expect(outcomes.map(\.action) == [.unreadable])
            #expect(!FileManager.default.fileExists(atPath: folder.path + "/12345.json"))
            #expect(FileManager.default.fileExists(atPath: folder.path + "/notes.txt"))
        }
    }
}
