import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A running supervised process group: wait for its result, or stop it.
///
/// - Important: dropping the handle does not stop the process; its monitor thread keeps supervising it (timers
///   included) and tears the group down when it ends. Call ``terminate()`` to stop it.
public final class SupervisedProcess: Sendable {
    /// The leader's pid, which is also the process group id.
    public let pid: Int32
    /// What runs.
    public let argv: [String]
    let control: MonitorControl

    init(pid: Int32, argv: [String], control: MonitorControl) {
        self.pid = pid
        self.argv = argv
        self.control = control
    }

    /// Asks the monitor to tear the group down (SIGTERM, grace, SIGKILL); the result's stop reason is `.stopped`.
    /// Returns at once; ``wait()`` returns when the group is gone.
    public func terminate() { control.requestStop(.stopped) }

    /// Like ``terminate()`` with stop reason `.cancelled`.
    public func cancel() { control.requestStop(.cancelled) }

    /// True until the leader has been reaped.
    public var isRunning: Bool { !control.leaderReaped }

    /// Waits for the end of supervision (leader reaped, group torn down, pipes closed).
    ///
    /// Cancelling the awaiting task does not stop the process; use ``ProcessSupervisor/run(_:options:onOutput:)``
    /// for "cancellation tears down".
    public func wait() async -> ProcessResult {
        await withCheckedContinuation { continuation in control.addWaiter(continuation) }
    }
}

/// State shared between a monitor thread and the rest of the program.
final class MonitorControl: Sendable {
    private struct State {
        var wakeFD: Int32 = -1
        var stopRequest: StopReason?
        var leaderReaped = false
        var result: ProcessResult?
        var waiters: [CheckedContinuation<ProcessResult, Never>] = []
    }

    private let state = Mutex(State())

    /// Installs the write end of the monitor's wake pipe; a stop requested before this is delivered then.
    func setWakeFD(_ fd: Int32) {
        state.withLock { state in
            state.wakeFD = fd
            if state.stopRequest != nil { MonitorControl.poke(fd) }
        }
    }

    func requestStop(_ reason: StopReason) {
        state.withLock { state in
            guard state.result == nil, state.stopRequest == nil else { return }
            state.stopRequest = reason
            // Written under the lock: the monitor closes the fd under the same lock, so it is never a reused number.
            if state.wakeFD >= 0 { MonitorControl.poke(state.wakeFD) }
        }
    }

    var stopRequest: StopReason? { state.withLock { $0.stopRequest } }

    /// Bookkeeping for the leader is dropped *before* it is reaped, so nothing can signal a reaped pid.
    func markLeaderReaped() { state.withLock { $0.leaderReaped = true } }

    var leaderReaped: Bool { state.withLock { $0.leaderReaped } }

    /// Closes the wake pipe's write end (under the lock, see ``requestStop(_:)``).
    func closeWakeFD() {
        state.withLock { state in
            if state.wakeFD >= 0 { close(state.wakeFD) }
            state.wakeFD = -1
        }
    }

    func addWaiter(_ continuation: CheckedContinuation<ProcessResult, Never>) {
        let ready: ProcessResult? = state.withLock { state in
            if let result = state.result { return result }
            state.waiters.append(continuation)
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func finish(_ result: ProcessResult) {
        let waiters = state.withLock { state in
            state.result = result
            state.leaderReaped = true
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    private static func poke(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }
}
