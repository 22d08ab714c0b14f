import DemoForgeStore
import DemoForgeSystem
import Foundation

/// Tasks on disk: `status.json` written atomically, `events.jsonl` appended, both under the store's locks.
///
/// Every write is published to the hub; other processes' writes reach it through ``TaskWatcher``.
public struct TaskStore: Sendable {
    public let workspace: Workspace
    public let hub: TaskChangeHub?
    /// fsync each event append. Off by default: an append survives a crash of this process (it is in the page
    /// cache); only a machine crash can lose the last events. Status documents are always durable.
    public var durableEvents = false

    public init(workspace: Workspace, hub: TaskChangeHub? = nil) {
        self.workspace = workspace
        self.hub = hub
    }

    func statusFile(_ id: String) -> URL { workspace.taskFolder(id).appendingPathComponent("status.json") }
    func eventLog(_ id: String) -> EventLog { EventLog(folder: workspace.taskFolder(id)) }

    /// Creates a QUEUED task owned by this process, under a fresh id unless one was already chosen (a run's
    /// id is decided inside the context lock that claims it).
    @discardableResult
    public func create(client: String, kind: String, id: String = TaskId.make()) async throws -> TaskStatus {
        let folder = workspace.taskFolder(id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("events.jsonl").path, contents: nil)
        let status = TaskStatus(taskId: id, client: client, kind: kind, owner: .current)
        try AtomicFile.write(status.toJSON(), to: statusFile(id))
        hub?.publish(TaskChange(taskId: id, kind: .status))
        return status
    }

    /// Validates an id and checks that the task exists.
    public func checkedId(_ id: String) throws(StoreError) -> String {
        guard Identifier.isValidTaskId(id) else {
            throw StoreError(.invalid, "Invalid task id \"\(id)\": allowed: 26 characters of 0-9 and a-z (no i, l, o, u)")
        }
        guard FileManager.default.fileExists(atPath: workspace.taskFolder(id).appendingPathComponent("status.json").path) else {
            throw StoreError(.notFound, "No task \(id)")
        }
        return id
    }

    /// The task's current status.
    public func status(_ id: String) throws -> TaskStatus {
        let id = try checkedId(id)
        let file = statusFile(id)
        return try TaskStatus.from(try AtomicFile.readJSON(file), file: file.path)
    }

    /// Changes the status under the exclusive lock. A transition out of a terminal state is refused.
    @discardableResult
    public func update(_ id: String, _ mutate: @Sendable (inout TaskStatus) throws -> Void) async throws -> TaskStatus {
        let id = try checkedId(id)
        let file = statusFile(id)
        let result = try await workspace.locks.withLock(file, .exclusive) {
            let current = try TaskStatus.from(try AtomicFile.readJSON(file), file: file.path)
            var next = current
            try mutate(&next)
            if current.state.isTerminal && next.state != current.state {
                throw StoreError(
                    .conflict,
                    "Task \(id) is \(current.state.rawValue), a terminal state; it cannot become \(next.state.rawValue)")
            }
            if next.state.isTerminal && !current.state.isTerminal { next.endedAt = Timestamp.now() }
            next.updatedAt = Timestamp.now()
            try AtomicFile.write(next.toJSON(), to: file)
            return next
        }
        hub?.publish(TaskChange(taskId: id, kind: .status))
        return result
    }

    /// Appends one event; its seq is its line number.
    @discardableResult
    public func append(
        _ id: String, type: String, step: String? = nil, message: String, data: JSONValue? = nil
    ) async throws -> TaskEvent {
        try await appendBatch(id, [(type, step, message, data)])[0]
    }

    /// Appends several events in one locked write.
    @discardableResult
    public func appendBatch(_ id: String, _ items: [(String, String?, String, JSONValue?)]) async throws -> [TaskEvent] {
        let id = try checkedId(id)
        let log = eventLog(id)
        let durable = durableEvents
        let events = try await workspace.locks.withLock(log.logFile, .exclusive) {
            try log.append(count: items.count, durable: durable) { index, seq in
                let (type, step, message, data) = items[index]
                return TaskEvent(seq: seq, type: type, step: step, message: message, data: data)
            }
        }
        hub?.publish(TaskChange(taskId: id, kind: .events))
        return events
    }

    /// Events from seq `from` (1-based), at most `limit`.
    public func events(_ id: String, from: Int = 1, limit: Int = 1000) throws -> [TaskEvent] {
        try eventLog(try checkedId(id)).read(from: from, limit: limit)
    }

    /// Every task, newest first, optionally for one client.
    public func list(client: String? = nil) -> [TaskStatus] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.tasksFolder.path)) ?? []
        return names.filter(Identifier.isValidTaskId).sorted(by: >).compactMap { id in
            guard let status = try? status(id) else { return nil }
            if let client, status.client != client { return nil }
            return status
        }
    }

    /// Requests cancellation: the task becomes CANCELLED; its owner sees the change and stops its work.
    public func cancel(_ id: String, reason: String = "cancelled by request") async throws -> TaskStatus {
        try await update(id) { status in
            guard !status.state.isTerminal else { return }
            status.state = .cancelled
            status.error = reason
        }
    }
}
