import Foundation
import Synchronization

/// Something about a task changed: new events, or a new status.
public struct TaskChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case events
        case status
    }

    public let taskId: String
    public let kind: Kind

    public init(taskId: String, kind: Kind) {
        self.taskId = taskId
        self.kind = kind
    }
}

/// Fans task changes out to in-process subscribers (SSE streams, `logs --follow`, a run waiting for cancel).
///
/// A change is only a nudge: subscribers re-read from the last seq or status they saw, so coalesced or
/// repeated nudges (an in-process publish and the inotify echo of the same write) lose and duplicate nothing.
public final class TaskChangeHub: Sendable {
    private struct Subscriber {
        let taskId: String?
        let continuation: AsyncStream<TaskChange>.Continuation
    }

    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init() {}

    /// A stream of changes for one task (or every task when `taskId` is nil). It ends when cancelled or
    /// when the consumer stops iterating; the subscription is released then.
    public func subscribe(taskId: String?) -> AsyncStream<TaskChange> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<TaskChange>.makeStream(bufferingPolicy: .bufferingNewest(256))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(taskId: taskId, continuation: continuation) }
        return stream
    }

    /// Delivers a change to every interested subscriber.
    public func publish(_ change: TaskChange) {
        let targets = subscribers.withLock { table in
            table.values.filter { $0.taskId == nil || $0.taskId == change.taskId }.map(\.continuation)
        }
        for continuation in targets { continuation.yield(change) }
    }

    /// How many subscriptions are open (for health and leak checks).
    public var subscriberCount: Int { subscribers.withLock { $0.count } }
}
