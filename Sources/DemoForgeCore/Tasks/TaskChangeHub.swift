import Foundation
import Synchronization

/// Something about a task changed: new events, or a new status.
public struct TaskChange: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
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
/// A change is only a nudge: subscribers re-read from the last seq or status they saw. Each subscription keeps
/// the changes it has not taken yet as an ordered set, so a burst of appends costs one pending entry, and no
/// kind of change is ever dropped (a status change cannot be lost behind thousands of event nudges).
public final class TaskChangeHub: Sendable {
    private let subscribers = Mutex<[UInt64: Subscription.Pending]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init() {}

    /// The changes of one task (or of every task when `taskId` is nil). Iteration ends when the consuming task
    /// is cancelled; the subscription is released when the sequence and its iterators are gone.
    public func subscribe(taskId: String?) -> Subscription {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let pending = Subscription.Pending(taskId: taskId)
        subscribers.withLock { $0[id] = pending }
        let handle = Subscription.Handle(pending: pending) { [weak self] in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return Subscription(handle: handle)
    }

    /// Delivers a change to every interested subscriber.
    public func publish(_ change: TaskChange) {
        let targets = subscribers.withLock { table in
            table.values.filter { $0.taskId == nil || $0.taskId == change.taskId }
        }
        for pending in targets { pending.add(change) }
    }

    /// How many subscriptions are open (for health and leak checks).
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// One subscriber's changes, as an async sequence.
    public struct Subscription: AsyncSequence, Sendable {
        public typealias Element = TaskChange
        let handle: Handle

        public func makeAsyncIterator() -> Iterator {
            Iterator(handle: handle, wakeups: handle.pending.wakeups.makeAsyncIterator())
        }

        public struct Iterator: AsyncIteratorProtocol {
            let handle: Handle
            var wakeups: AsyncStream<Void>.AsyncIterator

            public mutating func next() async -> TaskChange? {
                while true {
                    if let change = handle.pending.take() { return change }
                    // nil once the consuming task is cancelled.
                    guard await wakeups.next() != nil else { return nil }
                }
            }
        }

        /// Held by the sequence and its iterators: when the last of them goes, the hub forgets the subscriber.
        final class Handle: Sendable {
            let pending: Pending
            private let release: @Sendable () -> Void

            init(pending: Pending, release: @escaping @Sendable () -> Void) {
                self.pending = pending
                self.release = release
            }

            deinit {
                release()
                pending.close()
            }
        }

        /// The not-yet-taken changes, oldest first, each at most once.
        final class Pending: Sendable {
            let taskId: String?
            let wakeups: AsyncStream<Void>
            private let wake: AsyncStream<Void>.Continuation
            private let queue = Mutex<(order: [TaskChange], set: Set<TaskChange>)>(([], []))

            init(taskId: String?) {
                self.taskId = taskId
                (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            }

            func add(_ change: TaskChange) {
                let added = queue.withLock { queue -> Bool in
                    guard queue.set.insert(change).inserted else { return false }
                    queue.order.append(change)
                    return true
                }
                if added { wake.yield() }
            }

            func take() -> TaskChange? {
                queue.withLock { queue in
                    guard !queue.order.isEmpty else { return nil }
                    let change = queue.order.removeFirst()
                    queue.set.remove(change)
                    return change
                }
            }

            func close() { wake.finish() }
        }
    }
}
