import DemoForgeCore
import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

@Suite struct TaskStoreTests {
    @Test func idsAreValidSortableAndUnique() {
        let early = TaskId.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let late = TaskId.make(now: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Identifier.isValidTaskId(early) && Identifier.isValidTaskId(late))
        #expect(early < late)
        #expect(Set((0..<1000).map { _ in TaskId.make() }).count == 1000)
        #expect(!Identifier.isValidTaskId("..%2F..%2Fx"))
    }

    @Test func terminalStatesAreFinal() async throws {
        let tmp = try TemporaryWorkspace("tasks")
        defer { tmp.remove() }
        let store = TaskStore(workspace: tmp.workspace)
        let task = try await store.create(client: "acme", kind: "build")
        #expect(task.state == .queued)
        try await store.update(task.taskId) { $0.state = .running }
        let done = try await store.update(task.taskId) { $0.state = .done }
        #expect(done.endedAt != nil)
        await #expect {
            try await store.update(task.taskId) { $0.state = .running }
        } throws: { error in
            "\(error)" == "Task \(task.taskId) is DONE, a terminal state; it cannot become RUNNING"
        }
        #expect(try store.status(task.taskId).state == .done)
        // Cancelling a finished task changes nothing.
        #expect(try await store.cancel(task.taskId).state == .done)
    }

    @Test func eventsReadFromAnySeq() async throws {
        let tmp = try TemporaryWorkspace("events")
        defer { tmp.remove() }
        let store = TaskStore(workspace: tmp.workspace)
        let id = try await store.create(client: "acme", kind: "build").taskId
        for i in 1...250 { try await store.append(id, type: "output", message: "line \(i)") }
        #expect(try store.events(id, from: 1, limit: 3).map(\.seq) == [1, 2, 3])
        #expect(try store.events(id, from: 101, limit: 2).map(\.message) == ["line 101", "line 102"])
        #expect(try store.events(id, from: 249, limit: 10).map(\.seq) == [249, 250])
        #expect(try store.events(id, from: 251, limit: 10).isEmpty)
        #expect(try EventLog(folder: tmp.workspace.taskFolder(id)).count() == 250)
    }

    @Test func halfWrittenLastLineIsIgnoredThenRepaired() async throws {
        let tmp = try TemporaryWorkspace("events-torn")
        defer { tmp.remove() }
        let store = TaskStore(workspace: tmp.workspace)
        let id = try await store.create(client: "acme", kind: "build").taskId
        for i in 1...3 { try await store.append(id, type: "output", message: "line \(i)") }
        let log = tmp.workspace.taskFolder(id).appendingPathComponent("events.jsonl")
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"seq":4,"type":"out"#.utf8))
        try handle.close()
        #expect(try store.events(id, from: 1, limit: 10).map(\.seq) == [1, 2, 3])
        let next = try await store.append(id, type: "output", message: "after crash")
        #expect(next.seq == 4)
        #expect(try store.events(id, from: 4, limit: 10).map(\.message) == ["after crash"])
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
    }

    @Test func missingOrLaggingIndexIsRebuilt() async throws {
        let tmp = try TemporaryWorkspace("events-index")
        defer { tmp.remove() }
        let store = TaskStore(workspace: tmp.workspace)
        let id = try await store.create(client: "acme", kind: "build").taskId
        for i in 1...20 { try await store.append(id, type: "output", message: "line \(i)") }
        let index = tmp.workspace.taskFolder(id).appendingPathComponent("events.idx")
        // Lagging: the crash came after the log write and before the index write.
        let handle = try FileHandle(forWritingTo: index)
        try handle.truncate(atOffset: 10 * 8)
        try handle.close()
        #expect(try store.events(id, from: 15, limit: 2).map(\.message) == ["line 15", "line 16"])
        try FileManager.default.removeItem(at: index)
        #expect(try store.events(id, from: 19, limit: 5).map(\.seq) == [19, 20])
        #expect(try await store.append(id, type: "output", message: "line 21").seq == 21)
        #expect(try FileManager.default.attributesOfItem(atPath: index.path)[.size] as? Int == 21 * 8)
        #expect(try store.events(id, from: 21, limit: 1).map(\.message) == ["line 21"])
    }

    @Test func invalidAndUnknownIdsAreRefused() throws {
        let tmp = try TemporaryWorkspace("tasks-bad")
        defer { tmp.remove() }
        let store = TaskStore(workspace: tmp.workspace)
        #expect(throws: StoreError.self) { try store.status("../../etc/passwd") }
        #expect {
            try store.status("0000000000aaaaaaaaaaaaaaaa")
        } throws: { error in
            (error as? StoreError)?.code == .notFound
        }
    }

    @Test(.timeLimit(.minutes(1))) func appendBySeparateProcessReachesSubscriberWithinMilliseconds() async throws {
        let tmp = try TemporaryWorkspace("watch")
        defer { tmp.remove() }
        let hub = TaskChangeHub()
        let watcher = try TaskWatcher(tasksFolder: tmp.workspace.tasksFolder, hub: hub)
        defer { watcher.stop() }
        let store = TaskStore(workspace: tmp.workspace)
        let id = try await store.create(client: "acme", kind: "build").taskId
        let changes = hub.subscribe(taskId: id)
        let waiter = Task { () -> Double in
            for await change in changes where change.kind == .events { return Date().timeIntervalSince1970 }
            return 0
        }
        // `__task append` prints the wall-clock second at which its append returned.
        let result = try await offPool {
            try CommandRunner.demoforge(["__task", "append", id, "output", "from another process"], workspace: tmp.root)
        }
        #expect(result.status == 0)
        let appendedAt = Double(result.stdout.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
        let receivedAt = await waiter.value
        #expect(receivedAt - appendedAt < 0.1)
        #expect(try store.events(id, from: 1, limit: 5).map(\.message) == ["from another process"])
    }

    @Test func unsubscribingReleasesTheSubscription() async {
        let hub = TaskChangeHub()
        let task = Task {
            for await _ in hub.subscribe(taskId: "x") {}
        }
        while hub.subscriberCount == 0 { await Task.yield() }
        task.cancel()
        await task.value
        #expect(hub.subscriberCount == 0)
    }
}
