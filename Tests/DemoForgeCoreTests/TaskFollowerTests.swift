import DemoForgeCore
import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// The follower resolves the log once and reads the status only at the start and on status nudges; these pin
/// down that it still delivers every event exactly once and ends after a terminal state.
@Suite struct TaskFollowerTests {
    @Test(.timeLimit(.minutes(1))) func deliversStoredAndLiveEventsThenEndsAfterTerminalStatus() async throws {
        let tmp = try TemporaryWorkspace("follow")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let store = TaskStore(workspace: tmp.workspace, hub: hub)
        let id = try await store.create(client: "acme", kind: "build").taskId
        for i in 1...3 { try await store.append(id, type: "output", message: "stored \(i)") }
        let stream = TaskFollower.events(store: store, hub: hub, taskId: id, from: 2, untilTerminal: true)
        let collector = Task { () -> [String] in
            var seen: [String] = []
            for try await event in stream { seen.append("\(event.seq):\(event.message)") }
            return seen
        }
        // Wait until the follower has subscribed, so that what follows is live.
        while hub.subscriberCount == 0 { await Task.yield() }
        for i in 4...6 { try await store.append(id, type: "output", message: "live \(i)") }
        try await store.update(id) { $0.state = .running }
        try await store.append(id, type: "output", message: "live 7")
        try await store.update(id) { $0.state = .done }
        #expect(try await collector.value == ["2:stored 2", "3:stored 3", "4:live 4", "5:live 5", "6:live 6", "7:live 7"])
        #expect(hub.subscriberCount == 0)
    }

    @Test(.timeLimit(.minutes(1))) func alreadyTerminalTaskEndsAtOnceWithItsEvents() async throws {
        let tmp = try TemporaryWorkspace("follow-done")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let store = TaskStore(workspace: tmp.workspace, hub: hub)
        let id = try await store.create(client: "acme", kind: "build").taskId
        try await store.appendBatch(id, (1...700).map { ("output", nil, "line \($0)", nil) })
        try await store.update(id) { $0.state = .failed }
        var seqs: [Int] = []
        for try await event in TaskFollower.events(store: store, hub: hub, taskId: id, from: 1, untilTerminal: true) {
            seqs.append(event.seq)
        }
        #expect(seqs == Array(1...700))
    }

    @Test(.timeLimit(.minutes(1))) func unknownTaskFailsTheStream() async throws {
        let tmp = try TemporaryWorkspace("follow-missing")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let store = TaskStore(workspace: tmp.workspace, hub: hub)
        let missing = TaskId.make()
        await #expect {
            for try await _ in TaskFollower.events(store: store, hub: hub, taskId: missing, from: 1, untilTerminal: true) {}
        } throws: { error in
            (error as? StoreError)?.code == .notFound
        }
    }
}

/// A cancel is written by another party while the owner is still stopping: followers keep reading until the
/// owner's closing event, so `run-finished` is never cut off.
@Suite struct TaskFollowerCancelTests {
    @Test(.timeLimit(.minutes(1))) func cancelledTaskIsFollowedUntilTheOwnersClosingEvent() async throws {
        let tmp = try TemporaryWorkspace("follow-cancel")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let store = TaskStore(workspace: tmp.workspace, hub: hub)
        // Owned by this (live) process.
        let id = try await store.create(client: "acme", kind: "run").taskId
        try await store.update(id) { $0.state = .running }
        try await store.append(id, type: "output", message: "working")
        let stream = TaskFollower.events(store: store, hub: hub, taskId: id, from: 1, untilTerminal: true)
        let collector = Task { () -> [String] in
            var seen: [String] = []
            for try await event in stream { seen.append(event.type) }
            return seen
        }
        while hub.subscriberCount == 0 { await Task.yield() }
        _ = try await store.cancel(id)
        // The owner notices, tears its work down, then writes its last events.
        try await Task.sleep(for: .milliseconds(300))
        try await store.append(id, type: "step-failed", message: "cancelled")
        try await store.append(id, type: "run-finished", message: "run CANCELLED")
        #expect(try await collector.value == ["output", "step-failed", "run-finished"])
    }

    @Test(.timeLimit(.minutes(1))) func cancelledTaskOfADeadOwnerEndsAtOnce() async throws {
        let tmp = try TemporaryWorkspace("follow-cancel-dead")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let store = TaskStore(workspace: tmp.workspace, hub: hub)
        let id = try await store.create(client: "acme", kind: "run").taskId
        try await store.update(id) { status in
            status.state = .running
            status.owner = ProcessIdentity(pid: 999_999, startTime: 1)
        }
        _ = try await store.cancel(id)
        let started = ContinuousClock.now
        var seen = 0
        for try await _ in TaskFollower.events(store: store, hub: hub, taskId: id, from: 1, untilTerminal: true) { seen += 1 }
        #expect(seen == 0)
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}
