import CDemoForgeShims
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Supervises one process group on a dedicated thread: spawn, read output, timers, teardown, reap.
///
/// Everything blocking (poll, waitpid, the registry's fsync) happens on this thread, never on the cooperative
/// pool. The thread is the only code that signals the group, so a stop request is just a byte on a wake pipe.
final class ProcessMonitor {
    let spec: ProcessSpec
    let options: SupervisionOptions
    let registry: ProcessGroupRegistry?
    let onOutput: @Sendable (OutputLine) -> Void
    let control: MonitorControl
    let child: SpawnedChild

    var stdoutFD: Int32
    var stderrFD: Int32
    var pidFD: Int32
    var wakeReadFD: Int32 = -1
    var stdoutSplitter = LineSplitter()
    var stderrSplitter = LineSplitter()
    var retained: [OutputLine] = []
    var lineCount = 0
    let startedAt = Date()
    let startedMonotonic = monotonicSeconds()
    var lastActivity = monotonicSeconds()
    var leaderExitSeen = false
    var exitStatus: TerminationStatus?
    var killEscalated = false
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(
        spec: ProcessSpec, options: SupervisionOptions, registry: ProcessGroupRegistry?,
        onOutput: @escaping @Sendable (OutputLine) -> Void, control: MonitorControl, child: SpawnedChild
    ) {
        self.spec = spec
        self.options = options
        self.registry = registry
        self.onOutput = onOutput
        self.control = control
        self.child = child
        self.stdoutFD = child.stdoutFD
        self.stderrFD = child.stderrFD
        // A pidfd wakes poll the moment the leader exits; without one (old kernels) poll ticks every 50 ms.
        self.pidFD = df_pidfd_open(child.pid)
    }

    /// Spawns on a new thread and returns once the group is running and recorded; the thread then supervises it.
    static func launch(
        spec: ProcessSpec, options: SupervisionOptions, registry: ProcessGroupRegistry?,
        onOutput: @escaping @Sendable (OutputLine) -> Void, onFinish: @escaping @Sendable (ProcessResult) -> Void
    ) async throws(ProcessError) -> SupervisedProcess {
        let started: Result<SupervisedProcess, ProcessError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                let control = MonitorControl()
                let token = UUID().uuidString
                let child: SpawnedChild
                do {
                    child = try ProcessSpawner.spawn(spec, token: token)
                } catch {
                    continuation.resume(
                        returning: .failure(
                            error as? ProcessError
                                ?? ProcessError(.spawnFailed, "cannot run \(spec.argv.first ?? ""): \(error)")))
                    return
                }
                let monitor = ProcessMonitor(
                    spec: spec, options: options, registry: registry, onOutput: onOutput, control: control,
                    child: child)
                if let failure = monitor.recordGroup(token: token) {
                    // Not recorded means not reapable after a crash: do not leave it running.
                    let result = monitor.supervise(initialStop: .stopped)
                    onFinish(result)
                    control.finish(result)
                    continuation.resume(returning: .failure(failure))
                    return
                }
                let process = SupervisedProcess(pid: child.pid, argv: spec.argv, control: control)
                continuation.resume(returning: .success(process))
                let result = monitor.supervise(initialStop: nil)
                onFinish(result)
                control.finish(result)
            }
            thread.name = "demoforge-process"
            thread.start()
        }
        return try started.get()
    }

    func recordGroup(token: String) -> ProcessError? {
        guard let registry else { return nil }
        let leaderStart = ProcessIdentity.startTime(of: child.pid) ?? 0
        let record = ProcessGroupRecord(
            pgid: child.pid, leader: ProcessIdentity(pid: child.pid, startTime: leaderStart), argv: spec.argv,
            owner: ProcessIdentity.current, token: token, startedAt: startedAt)
        do {
            try registry.write(record)
            return nil
        } catch {
            return error
        }
    }

    /// Runs until the leader exits, a timer fires or a stop is requested; then tears the group down.
    func supervise(initialStop: StopReason?) -> ProcessResult {
        var wakeEnds: [Int32] = [-1, -1]
        if df_pipe2_cloexec(&wakeEnds, 1) == 0 {
            wakeReadFD = wakeEnds[0]
            control.setWakeFD(wakeEnds[1])
        }
        let stop = initialStop ?? watch()
        drainAvailable()
        let confirmed = tearDown()
        // The group is gone: read what is left without blocking, then stop even if an escaped process
        // (one that left the group with setsid) still holds a pipe open.
        drainAvailable()
        finishStreams()
        control.closeWakeFD()
        for fd in [wakeReadFD, pidFD] where fd >= 0 { close(fd) }
        wakeReadFD = -1
        pidFD = -1
        if confirmed { registry?.remove(pgid: child.pid) }
        return ProcessResult(
            pid: child.pid, argv: spec.argv, exitStatus: exitStatus ?? .unknown, stopReason: stop,
            killEscalated: killEscalated, groupEmptyConfirmed: confirmed, startedAt: startedAt,
            durationSeconds: monotonicSeconds() - startedMonotonic,
            lines: Array(retained.suffix(max(0, options.retainedLines))), lineCount: lineCount)
    }

    /// The watch loop: returns why supervision should end.
    private func watch() -> StopReason {
        while true {
            if let request = control.stopRequest { return request }
            if leaderHasExited() { return .exited }
            let now = monotonicSeconds()
            var wait = 3600.0
            if let limit = options.inactivityTimeoutSeconds {
                let left = lastActivity + limit - now
                if left <= 0 { return .inactivityTimeout(seconds: limit) }
                wait = min(wait, left)
            }
            if let limit = options.maxDurationSeconds {
                let left = startedMonotonic + limit - now
                if left <= 0 { return .maxDuration(seconds: limit) }
                wait = min(wait, left)
            }
            // Without a pidfd (old kernel) or a wake pipe (descriptor limit), tick instead of sleeping long.
            if pidFD < 0 || wakeReadFD < 0 { wait = min(wait, 0.05) }
            pump(timeout: wait)
        }
    }

    /// True once the leader has exited; it is left unreaped (a zombie) so its pgid cannot be reused yet.
    func leaderHasExited() -> Bool {
        if leaderExitSeen { return true }
        let state = df_child_exited_nowait(child.pid)
        if state == 1 || (state == -1 && Glibc.errno == ECHILD) { leaderExitSeen = true }
        return leaderExitSeen
    }

    /// Waits up to `timeout` seconds for output, the leader's exit or a wake-up, and reads what is available.
    func pump(timeout: Double) {
        var fds: [pollfd] = []
        for fd in [stdoutFD, stderrFD, wakeReadFD] where fd >= 0 {
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
        }
        if pidFD >= 0, !leaderExitSeen { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = Int32(min(max(0, (timeout * 1000).rounded(.up)), 3_600_000))
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        guard ready > 0 else { return }
        for entry in fds where entry.revents != 0 {
            if entry.fd == stdoutFD {
                readAvailable(.stdout)
            } else if entry.fd == stderrFD {
                readAvailable(.stderr)
            } else if entry.fd == wakeReadFD {
                var sink = [UInt8](repeating: 0, count: 64)
                _ = read(wakeReadFD, &sink, sink.count)
            }
        }
    }

    /// Reads without blocking until the pipe is empty or closed; returns true when it stopped early (bounded, so
    /// timers are still checked under a flood) and more may be waiting.
    @discardableResult
    func readAvailable(_ stream: OutputLine.Stream) -> Bool {
        for _ in 0..<16 {
            let fd = stream == .stdout ? stdoutFD : stderrFD
            guard fd >= 0 else { return false }
            let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                lastActivity = monotonicSeconds()
                readBuffer.withUnsafeBytes { raw in
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                    if stream == .stdout {
                        stdoutSplitter.feed(bytes) { deliver($0, .stdout) }
                    } else {
                        stderrSplitter.feed(bytes) { deliver($0, .stderr) }
                    }
                }
            } else if count == -1 && Glibc.errno == EINTR {
                continue
            } else if count == -1 && Glibc.errno == EAGAIN {
                return false
            } else {
                closeStream(stream)
                return false
            }
        }
        return true
    }

    /// Reads whatever is buffered in both pipes right now, without waiting for more.
    func drainAvailable() {
        for _ in 0..<256 {
            let moreOut = readAvailable(.stdout)
            let moreErr = readAvailable(.stderr)
            if !moreOut && !moreErr { return }
        }
    }

    private func closeStream(_ stream: OutputLine.Stream) {
        if stream == .stdout {
            if stdoutFD >= 0 { close(stdoutFD) }
            stdoutFD = -1
            stdoutSplitter.finish { deliver($0, .stdout) }
        } else {
            if stderrFD >= 0 { close(stderrFD) }
            stderrFD = -1
            stderrSplitter.finish { deliver($0, .stderr) }
        }
    }

    /// Closes both pipes, flushing partial trailing lines.
    private func finishStreams() {
        closeStream(.stdout)
        closeStream(.stderr)
    }

    private func deliver(_ text: String, _ stream: OutputLine.Stream) {
        let line = OutputLine(stream: stream, text: text, time: Date())
        lineCount += 1
        if options.retainedLines > 0 {
            // Trimmed in halves so that keeping the last N lines costs O(1) per line, amortised.
            if retained.count >= 2 * options.retainedLines {
                retained.removeFirst(retained.count - options.retainedLines)
            }
            retained.append(line)
        }
        onOutput(line)
    }
}
