import DemoForgeCore
import DemoForgeStore
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
