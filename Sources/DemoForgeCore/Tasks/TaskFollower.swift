import DemoForgeStore
import DemoForgeSystem
import Foundation

/// Live views of one task: its events from a seq on, or its status changes, pushed by the hub.
///
/// Each subscribes to the hub *before* reading what is already stored and de-duplicates by seq (or by
/// `updatedAt` for status), so nothing appended in between is lost or sent twice.
public enum TaskFollower {
    /// Event types a task's owner writes last (`run-finished` for runs, `result` for builds).
    public static let closingTypes: Set<String> = ["run-finished", "result"]
    /// How long a follower keeps reading after a terminal status while the owner is still alive.
    static let closingGraceSeconds = 10.0

    /// Events with seq >= `from`, live. With `untilTerminal`, the stream finishes once the task is terminal
    /// and every event written before that has been delivered.
    public static func events(
        store: TaskStore, hub: TaskChangeHub, taskId: String, from: Int, untilTerminal: Bool, pageSize: Int = 500
    ) -> AsyncThrowingStream<TaskEvent, any Error> {
        AsyncThrowingStream { continuation in
            let worker = Task {
                let changes = hub.subscribe(taskId: taskId)
                var next = max(1, from)
                do {
                    // Validated and resolved once: a nudge costs one log read, not URL building and a stat
                    // (with many streams on one task, every append nudges every stream).
                    let log = store.eventLog(try store.checkedId(taskId))
                    var iterator = changes.makeAsyncIterator()
                    // The status file is read at the start and on status nudges only (a terminal state is
                    // always written, and so nudged, after the task's last events).
                    var statusMayHaveChanged = true
                    var sawClosing = false
                    func drain() throws {
                        while true {
                            let page = try log.read(from: next, limit: pageSize)
                            for event in page {
                                continuation.yield(event)
                                if closingTypes.contains(event.type) { sawClosing = true }
                            }
                            if let last = page.last { next = last.seq + 1 }
                            if page.count < pageSize { break }
                        }
                    }
                    while !Task.isCancelled {
                        try drain()
                        if untilTerminal, statusMayHaveChanged, case let status = try store.status(taskId), status.state.isTerminal {
                            // Events appended just before the terminal status are already on disk: one more read.
                            try drain()
                            // A cancel is written by another process while the owner is still stopping its work
                            // and writing its last events: follow those until its closing event or its exit
                            // (bounded, and only in this final phase).
                            let deadline = monotonicSeconds() + closingGraceSeconds
                            while status.state == .cancelled, !sawClosing, let owner = status.owner, owner.isAlive,
                                monotonicSeconds() < deadline
                            {
                                try await Task.sleep(for: .milliseconds(100))
                                try drain()
                            }
                            break
                        }
                        guard let change = await iterator.next() else { break }
                        statusMayHaveChanged = change.kind == .status
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in worker.cancel() }
        }
    }

    /// The current status, then every change; finishes after a terminal state.
    public static func statuses(store: TaskStore, hub: TaskChangeHub, taskId: String) -> AsyncThrowingStream<TaskStatus, any Error> {
        AsyncThrowingStream { continuation in
            let worker = Task {
                let changes = hub.subscribe(taskId: taskId)
                var last: TaskStatus?
                do {
                    var iterator = changes.makeAsyncIterator()
                    while !Task.isCancelled {
                        let status = try store.status(taskId)
                        if status != last {
                            continuation.yield(status)
                            last = status
                        }
                        if status.state.isTerminal { break }
                        guard await iterator.next() != nil else { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in worker.cancel() }
        }
    }
}
