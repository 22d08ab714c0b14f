import DemoForgeStore
import Foundation

/// Live views of one task: its events from a seq on, or its status changes, pushed by the hub.
///
/// Each subscribes to the hub *before* reading what is already stored and de-duplicates by seq (or by
/// `updatedAt` for status), so nothing appended in between is lost or sent twice.
public enum TaskFollower {
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
                    while !Task.isCancelled {
                        // Drain everything there is now.
                        while true {
                            let page = try log.read(from: next, limit: pageSize)
                            for event in page { continuation.yield(event) }
                            if let last = page.last { next = last.seq + 1 }
                            if page.count < pageSize { break }
                        }
                        if untilTerminal, statusMayHaveChanged, try store.status(taskId).state.isTerminal {
                            // Events appended just before the terminal status are already on disk: one more read.
                            for event in try log.read(from: next, limit: Int.max) { continuation.yield(event) }
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
