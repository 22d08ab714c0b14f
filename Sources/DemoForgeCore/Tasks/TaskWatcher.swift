#if canImport(Glibc)
import Glibc
#endif
import CDemoForgeShims
import DemoForgeSystem
import Foundation
import Synchronization

/// Turns other processes' writes under `.demoforge/tasks` into hub changes, through inotify (no polling).
///
/// One watch on the tasks folder sees new tasks; one watch per task folder sees `events.jsonl` grow and
/// `status.json` replaced. A dedicated thread waits in poll(2) on the inotify descriptor and a wake pipe.
public final class TaskWatcher: Sendable {
    private let tasksFolder: URL
    private let hub: TaskChangeHub
    private let inotify: Int32
    private let wake: (read: Int32, write: Int32)
    private let state = Mutex<State>(State())
    private let finished = DispatchSemaphore(value: 0)

    private struct State {
        var watches: [Int32: String] = [:]
        var rootWatch: Int32 = -1
        var stopped = false
    }

    /// Starts watching. - Throws: when inotify is unavailable.
    public init(tasksFolder: URL, hub: TaskChangeHub) throws {
        self.tasksFolder = tasksFolder
        self.hub = hub
        inotify = try valueOrErrno("inotify_init1") { df_inotify_init1_cloexec_nonblock() }
        var fds: [Int32] = [0, 0]
        try valueOrErrno("pipe2") { df_pipe2_cloexec(&fds, 1) }
        wake = (fds[0], fds[1])
        try FileManager.default.createDirectory(at: tasksFolder, withIntermediateDirectories: true)
        let root = df_inotify_add_watch(inotify, tasksFolder.path, df_in_create() | df_in_moved_to() | df_in_onlydir())
        if root < 0 { throw SystemError(call: "inotify_add_watch", subject: tasksFolder.path, errno: errno) }
        state.withLock { $0.rootWatch = root }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tasksFolder.path)) ?? [] {
            watchTask(name)
        }
        let worker = Thread { [self] in self.loop() }
        worker.name = "demoforge-task-watcher"
        worker.start()
    }

    /// Stops the thread and closes the descriptors. Idempotent.
    public func stop() {
        let already = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return state.stopped
        }
        guard !already else { return }
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        close(inotify)
        close(wake.read)
        close(wake.write)
    }

    deinit { stop() }

    private func watchTask(_ name: String) {
        guard Identifier.isValidTaskId(name) else { return }
        let path = tasksFolder.appendingPathComponent(name).path
        let mask = df_in_modify() | df_in_moved_to() | df_in_close_write() | df_in_delete() | inDeleteSelf
            | df_in_onlydir()
        let wd = df_inotify_add_watch(inotify, path, mask)
        guard wd >= 0 else { return }
        state.withLock { $0.watches[wd] = name }
    }

    private func loop() {
        defer { finished.signal() }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&fds, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 || ready < 0 { return }
            while true {
                let n = read(inotify, &buffer, buffer.count)
                if n <= 0 { break }
                handle(buffer, count: n)
            }
        }
    }

    private func handle(_ buffer: [UInt8], count: Int) {
        var offset = 0
        var changes: [TaskChange] = []
        while offset + 16 <= count {
            let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
            let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
            let nameLength = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
            let nameBytes = buffer[(offset + 16)..<min(count, offset + 16 + nameLength)].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            offset += 16 + nameLength
            let (root, task) = state.withLock { ($0.rootWatch, $0.watches[wd]) }
            if wd == root {
                // A new task folder: watch it, and tell listeners of every task that a task appeared.
                watchTask(name)
                if Identifier.isValidTaskId(name) { changes.append(TaskChange(taskId: name, kind: .status)) }
            } else if let task {
                if mask & (inDeleteSelf | inIgnored) != 0 {
                    // The task's folder is gone (or its watch was removed): readers must see the loss, not
                    // wait forever for a change that cannot come.
                    if mask & inIgnored != 0 { _ = state.withLock { $0.watches.removeValue(forKey: wd) } }
                    changes.append(TaskChange(taskId: task, kind: .status))
                    changes.append(TaskChange(taskId: task, kind: .events))
                } else if name == "events.jsonl" {
                    changes.append(TaskChange(taskId: task, kind: .events))
                } else if name == "status.json" {
                    changes.append(TaskChange(taskId: task, kind: .status))
                }
            }
        }
        var seen = Set<String>()
        for change in changes where seen.insert("\(change.taskId)\(change.kind)").inserted {
            hub.publish(change)
        }
    }
}

/// `IN_DELETE_SELF` and `IN_IGNORED` from <sys/inotify.h> (not among the shims' names).
private let inDeleteSelf: UInt32 = 0x400
private let inIgnored: UInt32 = 0x8000
