import DemoForgeStore
import DemoForgeSystem
import Foundation

/// Where a task is in its life. DONE, FAILED and CANCELLED are terminal: nothing leaves them.
public enum TaskState: String, Sendable, CaseIterable {
    case queued = "QUEUED"
    case running = "RUNNING"
    case done = "DONE"
    case failed = "FAILED"
    case cancelled = "CANCELLED"

    /// True for DONE, FAILED and CANCELLED.
    public var isTerminal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// A task's status document (`status.json`).
public struct TaskStatus: Sendable, Equatable {
    public var taskId: String
    public var client: String
    public var kind: String
    public var state: TaskState
    public var step: String?
    public var progress: Double?
    public var attempt: Int?
    public var error: String?
    public var createdAt: String
    public var updatedAt: String
    public var endedAt: String?
    /// The process running the task, so another process can tell a live run from a crashed one.
    public var owner: ProcessIdentity?
    /// Free-form details (preview URL, screenshots, step durations).
    public var details: JSONValue

    public init(taskId: String, client: String, kind: String, owner: ProcessIdentity?) {
        let now = Timestamp.now()
        self.taskId = taskId
        self.client = client
        self.kind = kind
        self.state = .queued
        self.createdAt = now
        self.updatedAt = now
        self.owner = owner
        self.details = [:]
    }

    /// The document as written to disk and sent over the API.
    public func toJSON() -> JSONValue {
        var value: JSONValue = [
            "taskId": .string(taskId), "client": .string(client), "kind": .string(kind),
            "state": .string(state.rawValue), "createdAt": .string(createdAt), "updatedAt": .string(updatedAt),
            "step": step.map { .string($0) } ?? .null,
            "progress": progress.map { .double($0) } ?? .null,
            "attempt": attempt.map { .int(Int64($0)) } ?? .null,
            "error": error.map { .string($0) } ?? .null,
            "endedAt": endedAt.map { .string($0) } ?? .null,
            "details": details,
        ]
        if let owner {
            value.set(path: "owner", to: ["pid": .int(Int64(owner.pid)), "startTime": .int(Int64(owner.startTime))])
        } else {
            value.set(path: "owner", to: .null)
        }
        return value
    }

    /// Reads a status document; `.corrupt`/`.invalid` errors name the file.
    public static func from(_ value: JSONValue, file: String) throws(StoreError) -> TaskStatus {
        guard let taskId = value[path: "taskId"]?.stringValue, let client = value[path: "client"]?.stringValue,
            let kind = value[path: "kind"]?.stringValue, let stateText = value[path: "state"]?.stringValue,
            let state = TaskState(rawValue: stateText)
        else { throw StoreError(.invalid, "\(file) is not a task status (taskId, client, kind, state)") }
        var status = TaskStatus(taskId: taskId, client: client, kind: kind, owner: nil)
        status.state = state
        status.step = value[path: "step"]?.stringValue
        status.progress = value[path: "progress"]?.doubleValue
        status.attempt = value[path: "attempt"]?.intValue.map(Int.init)
        status.error = value[path: "error"]?.stringValue
        status.createdAt = value[path: "createdAt"]?.stringValue ?? ""
        status.updatedAt = value[path: "updatedAt"]?.stringValue ?? ""
        status.endedAt = value[path: "endedAt"]?.stringValue
        if let pid = value[path: "owner.pid"]?.intValue, let start = value[path: "owner.startTime"]?.intValue {
            status.owner = ProcessIdentity(pid: Int32(pid), startTime: UInt64(start))
        }
        status.details = value[path: "details"] ?? [:]
        return status
    }
}

/// One line of a task's event log.
public struct TaskEvent: Sendable, Equatable {
    /// The line number in `events.jsonl`, from 1.
    public var seq: Int
    public var time: String
    public var type: String
    public var step: String?
    public var message: String
    public var data: JSONValue?

    public init(seq: Int, time: String = Timestamp.now(), type: String, step: String? = nil, message: String, data: JSONValue? = nil) {
        self.seq = seq
        self.time = time
        self.type = type
        self.step = step
        self.message = message
        self.data = data
    }

    public func toJSON() -> JSONValue {
        [
            "seq": .int(Int64(seq)), "time": .string(time), "type": .string(type),
            "step": step.map { .string($0) } ?? .null, "message": .string(message), "data": data ?? .null,
        ]
    }

    public static func from(_ value: JSONValue) -> TaskEvent? {
        guard let seq = value[path: "seq"]?.intValue, let type = value[path: "type"]?.stringValue else { return nil }
        let data = value[path: "data"]
        return TaskEvent(
            seq: Int(seq), time: value[path: "time"]?.stringValue ?? "", type: type,
            step: value[path: "step"]?.stringValue, message: value[path: "message"]?.stringValue ?? "",
            data: data == .null ? nil : data)
    }
}

/// Task ids: 26 characters of lower-case Crockford base32, 10 for the millisecond time (so ids sort by
/// creation) and 16 random (80 bits, so they cannot be guessed).
public enum TaskId {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// A new task id.
    public static func make(now: Date = Date()) -> String {
        var text = ""
        var millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var timePart: [Character] = []
        for _ in 0..<10 {
            timePart.append(alphabet[Int(millis & 31)])
            millis >>= 5
        }
        text += String(timePart.reversed())
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<16 { text.append(alphabet[Int(rng.next() & 31)]) }
        return text
    }
}
