#if canImport(Glibc)
import Glibc
#endif
import CDemoForgeShims
import DemoForgeSystem
import Foundation
import Synchronization

/// How a lock is held: many readers share, one writer excludes everyone.
public enum LockMode: String, Sendable {
    case shared
    case exclusive
}

/// Read/write locks on files, shared by every process on the machine.
///
/// Each guarded file `F` has a companion `F.lock` locked with Linux open-file-description locks, which the
/// kernel drops when the holder dies, so no lock outlives its owner. Waiters in this process first queue on an
/// ``AsyncRWLock`` (no thread blocks); across processes a turnstile byte keeps a waiting writer from being
/// starved by new readers. Every wait has a timeout whose error names the file, the mode and the holder.
public struct FileLocks: Sendable {
    /// How long an acquisition may wait.
    public let timeout: Duration

    /// - Parameter timeout: the longest an acquisition waits (`locks.timeoutSeconds`).
    public init(timeout: Duration = .seconds(10)) {
        self.timeout = timeout
    }

    @TaskLocal static var held: Set<String> = []

    /// Runs `body` holding the lock that guards `file` in `mode`.
    ///
    /// - Important: acquiring a lock that the calling task (or a task it is nested in) already holds throws
    ///   `.lockReentrant` instead of deadlocking.
    public func withLock<T: Sendable>(
        _ file: URL,
        _ mode: LockMode,
        _ body: () async throws -> T
    ) async throws -> T {
        let lockPath = file.path + ".lock"
        if Self.held.contains(lockPath) {
            throw StoreError(
                .lockReentrant,
                "The \(mode.rawValue) lock on \(file.path) is already held by this task; re-entering it would deadlock"
            )
        }
        let hold = try await acquire(lockPath: lockPath, file: file.path, mode: mode)
        var held = Self.held
        held.insert(lockPath)
        do {
            let result = try await Self.$held.withValue(held) { try await body() }
            hold.release()
            return result
        } catch {
            hold.release()
            throw error
        }
    }

    private func acquire(lockPath: String, file: String, mode: LockMode) async throws -> Hold {
        let started = monotonicSeconds()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let deadline = started + seconds
        let local = LockRegistry.shared.lock(for: lockPath)
        let exclusive = mode == .exclusive
        switch await local.acquire(exclusive: exclusive, deadline: deadline) {
        case .granted: break
        case .cancelled: throw CancellationError()
        case .timedOut:
            throw timeoutError(file: file, lockPath: lockPath, mode: mode, waited: seconds)
        }
        do {
            let fd = try valueOrErrno("open", lockPath) { open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
            do {
                try await lockAcrossProcesses(fd: fd, exclusive: exclusive, deadline: deadline)
            } catch {
                close(fd)
                if error is CancellationError { throw error }
                if let storeError = error as? StoreError { throw storeError }
                throw timeoutError(file: file, lockPath: lockPath, mode: mode, waited: seconds)
            }
            return Hold(fd: fd, local: local, exclusive: exclusive)
        } catch {
            local.release(exclusive: exclusive)
            if let systemError = error as? SystemError {
                throw StoreError(.io, "Cannot open lock file \(lockPath): \(systemError)", underlying: systemError)
            }
            throw error
        }
    }

    /// Byte 0 is the lock itself; byte 1 is a turnstile that a waiting writer holds so that new readers queue
    /// behind it instead of overtaking it.
    private func lockAcrossProcesses(fd: Int32, exclusive: Bool, deadline: Double) async throws {
        let type = exclusive ? df_f_wrlck() : df_f_rdlck()
        try await poll(fd: fd, type: type, start: 1, deadline: deadline)
        do {
            try await poll(fd: fd, type: type, start: 0, deadline: deadline)
        } catch {
            _ = df_ofd_lock(fd, df_f_ofd_setlk(), df_f_unlck(), 1, 1, nil, nil)
            throw error
        }
        _ = df_ofd_lock(fd, df_f_ofd_setlk(), df_f_unlck(), 1, 1, nil, nil)
    }

    private struct Busy: Error {}

    /// Tries a non-blocking OFD lock with a short growing pause between tries, so that no thread blocks in the
    /// kernel and a dead holder's lock (released by the kernel) is taken within milliseconds.
    private func poll(fd: Int32, type: Int16, start: Int, deadline: Double) async throws {
        var pause = 0.001
        while true {
            let result = df_ofd_lock(fd, df_f_ofd_setlk(), type, start, 1, nil, nil)
            if result == 0 { return }
            let code = errno
            if code != EAGAIN && code != EACCES && code != EINTR {
                throw StoreError(.io, "fcntl(F_OFD_SETLK) failed: \(SystemError(call: "fcntl", errno: code))")
            }
            if monotonicSeconds() >= deadline { throw Busy() }
            try await Task.sleep(for: .seconds(min(pause, max(0, deadline - monotonicSeconds()))))
            pause = min(pause * 2, 0.02)
        }
    }

    private func timeoutError(file: String, lockPath: String, mode: LockMode, waited: Double) -> StoreError {
        let holders = LockHolders.find(lockPath: lockPath)
        let who: String
        if holders.isEmpty {
            who = "holder unknown (released just now)"
        } else {
            who = "held by " + holders.map { "pid \($0.pid) (\($0.mode))" }.joined(separator: ", ")
        }
        let shown = waited.rounded() == waited ? String(Int(waited)) : String(waited)
        return StoreError(
            .lockTimeout,
            "Timed out after \(shown) s waiting for the \(mode.rawValue) lock on \(file): \(who)"
        )
    }

    /// One acquired lock: the OFD lock lives as long as its descriptor.
    private struct Hold: Sendable {
        let fd: Int32
        let local: AsyncRWLock
        let exclusive: Bool

        func release() {
            close(fd)
            local.release(exclusive: exclusive)
        }
    }
}

/// The in-process lock for each lock path.
final class LockRegistry: Sendable {
    static let shared = LockRegistry()
    private let locks = Mutex<[String: AsyncRWLock]>([:])

    func lock(for path: String) -> AsyncRWLock {
        locks.withLock { table in
            if let lock = table[path] { return lock }
            let lock = AsyncRWLock()
            table[path] = lock
            return lock
        }
    }
}
