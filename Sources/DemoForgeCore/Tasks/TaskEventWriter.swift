import DemoForgeStore
import Foundation
import Synchronization

/// Appends a task's events in order from synchronous callbacks (process output arrives on monitor threads),
/// batching whatever has queued up into one locked append.
public final class TaskEventWriter: Sendable {
    /// An event before it has a seq.
    public struct Pending: Sendable {
        public var type: String
        public var step: String?
        public var message: String
        public var data: JSONValue?

        public init(type: String, step: String? = nil, message: String, data: JSONValue? = nil) {
            self.type = type
            self.step = step
            self.message = message
            self.data = data
        }
    }

    private let queue = PendingQueue()
    private let signal: AsyncStream<Void>.Continuation
    private let worker: Task<Void, Never>

    /// - Parameters:
    ///   - onWritten: called with each event after it is stored (for printing).
    public init(store: TaskStore, taskId: String, onWritten: @escaping @Sendable (TaskEvent) -> Void = { _ in }) {
        let (wakeups, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.signal = signal
        let queue = self.queue
        // A stored task, not a child: it must outlive the callbacks that feed it; `finish()` awaits it.
        worker = Task {
            var more = true
            while more {
                more = await wakeups.first(where: { _ in true }) != nil
                // Everything queued since the last wake-up goes out in one locked append.
                while true {
                    let batch = queue.takeAll()
                    if batch.isEmpty { break }
                    do {
                        let written = try await store.appendBatch(taskId, batch.map { ($0.type, $0.step, $0.message, $0.data) })
                        for event in written { onWritten(event) }
                    } catch {
                        FileHandle.standardError.write(Data("demoforge: cannot record events of task \(taskId): \(error)\n".utf8))
                    }
                }
            }
        }
    }

    /// Queues an event.
    public func write(_ event: Pending) {
        queue.append(event)
        signal.yield()
    }

    /// Queues an event.
    public func write(type: String, step: String? = nil, message: String, data: JSONValue? = nil) {
        write(Pending(type: type, step: step, message: message, data: data))
    }

    /// Waits until every queued event is stored. Later writes are dropped.
    public func finish() async {
        signal.finish()
        await worker.value
    }
}

/// The events waiting to be appended.
final class PendingQueue: Sendable {
    private let items = Mutex<[TaskEventWriter.Pending]>([])

    func append(_ item: TaskEventWriter.Pending) { items.withLock { $0.append(item) } }

    func takeAll() -> [TaskEventWriter.Pending] {
        items.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
    }
}
