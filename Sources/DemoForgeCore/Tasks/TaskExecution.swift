import DemoForgeStore
import Foundation

/// Runs a task's work in this process and stops it when the task is cancelled from anywhere: a status
/// change to CANCELLED written by `demoforge cancel`, the HTTP API or a signal handler reaches the hub
/// (in-process or through inotify) and cancels the work's Swift task, whose cleanup tears processes down.
public enum TaskExecution {
    /// Runs `work`; returns its value, or throws `CancellationError` when the task was cancelled.
    public static func run<T: Sendable>(
        taskId: String, store: TaskStore, hub: TaskChangeHub,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let changes = hub.subscribe(taskId: taskId)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                // Checked once before waiting: a cancel that landed before the subscription is not missed.
                if (try? store.status(taskId).state) == .cancelled { return nil }
                for await change in changes where change.kind == .status {
                    if (try? store.status(taskId).state) == .cancelled { return nil }
                }
                // The subscription ended without a cancel: this child has nothing more to do.
                try await Task.sleep(for: .seconds(365 * 24 * 3600))
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let value = next { return value }
                // The watcher saw CANCELLED: stop the work and wait for its cleanup.
                group.cancelAll()
            }
            throw CancellationError()
        }
    }
}
