import CDemoForgeShims
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A headless Chromium in its own session and process group, talking DevTools over fds 3 (commands in) and
/// 4 (replies and events out).
///
/// Deliberately small and self-contained: the shared process supervisor (`DemoForgeProcess`) can replace it later.
final class BrowserProcess: Sendable {
    /// The browser's pid; also its process group id and session id (it was spawned with `setsid`).
    let pid: pid_t
    /// Parent's end of the command pipe (child's fd 3), non-blocking.
    let commandFD: Int32
    /// Parent's end of the event pipe (child's fd 4), non-blocking.
    let eventFD: Int32
    /// Temp folder holding `profile/` (the user data dir) and `browser.log` (stdout and stderr).
    let temporaryDirectory: String

    private init(pid: pid_t, commandFD: Int32, eventFD: Int32, temporaryDirectory: String) {
        self.pid = pid
        self.commandFD = commandFD
        self.eventFD = eventFD
        self.temporaryDirectory = temporaryDirectory
    }

    /// The arguments after the executable: the checked flags, `--no-sandbox` only as root.
    static func arguments(profile: String, extra: [String]) -> [String] {
        var arguments = [
            "--headless=new", "--disable-gpu", "--remote-debugging-pipe", "--user-data-dir=\(profile)",
            "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
        ]
        if geteuid() == 0 { arguments.append("--no-sandbox") }
        arguments += extra
        arguments.append("about:blank")
        return arguments
    }

    /// Writing commands to a browser that has just exited must give EPIPE, not kill this process: SIGPIPE is
    /// ignored process-wide (once). Children get the default disposition back (`POSIX_SPAWN_SETSIGDEF`).
    static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// Starts the browser.
    static func launch(executable: String, extraArguments: [String]) throws(SnapshotError) -> BrowserProcess {
        _ = ignoreSIGPIPE
        var template = Array((NSTemporaryDirectory() + "/demoforge-browser-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SnapshotError(.launchFailed, "Cannot create a temp folder for the browser: \(errnoText())")
        }
        let temp = String(cString: made)
        let profile = temp + "/profile"
        mkdir(profile, 0o700)
        do {
            return try spawn(executable: executable, extra: extraArguments, temp: temp, profile: profile)
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    private static func spawn(
        executable: String,
        extra: [String],
        temp: String,
        profile: String
    ) throws(SnapshotError) -> BrowserProcess {
        // Both pipes: [0] read end, [1] write end, close-on-exec in the parent.
        var commands: [Int32] = [-1, -1]
        var events: [Int32] = [-1, -1]
        guard df_pipe2_cloexec(&commands, 0) == 0 else {
            throw SnapshotError(.launchFailed, "pipe2 failed: \(errnoText())")
        }
        guard df_pipe2_cloexec(&events, 0) == 0 else {
            close(commands[0])
            close(commands[1])
            throw SnapshotError(.launchFailed, "pipe2 failed: \(errnoText())")
        }
        // Move the child's ends above 9, so that dup2 onto 3 and 4 never targets the same number (a dup2 onto
        // itself keeps FD_CLOEXEC and the browser would get EPIPE) and never overwrites the other end.
        let childIn = fcntl(commands[0], F_DUPFD_CLOEXEC, 10)
        let childOut = fcntl(events[1], F_DUPFD_CLOEXEC, 10)
        close(commands[0])
        close(events[1])
        let parentOut = commands[1]
        let parentIn = events[0]
        defer {
            close(childIn)
            close(childOut)
        }
        guard childIn >= 0, childOut >= 0 else {
            close(parentOut)
            close(parentIn)
            throw SnapshotError(.launchFailed, "fcntl(F_DUPFD_CLOEXEC) failed: \(errnoText())")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let log = temp + "/browser.log"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, childIn, 3)
        posix_spawn_file_actions_adddup2(&actions, childOut, 4)
        df_spawn_addclosefrom(&actions, 5)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let flags = Int32(df_posix_spawn_setsid()) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = [executable] + arguments(profile: profile, extra: extra)
        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, cArguments, environ)
        guard result == 0 else {
            close(parentOut)
            close(parentIn)
            throw SnapshotError(
                .launchFailed,
                "Cannot start browser \(executable): \(String(cString: strerror(result)))"
            )
        }
        _ = fcntl(parentOut, F_SETFL, fcntl(parentOut, F_GETFL) | O_NONBLOCK)
        _ = fcntl(parentIn, F_SETFL, fcntl(parentIn, F_GETFL) | O_NONBLOCK)
        return BrowserProcess(pid: pid, commandFD: parentOut, eventFD: parentIn, temporaryDirectory: temp)
    }

    /// The last `count` lines the browser wrote to stdout/stderr.
    func logTail(_ count: Int = 20) -> String {
        let text = (try? String(contentsOfFile: temporaryDirectory + "/browser.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// The outcome of ``terminate(grace:)``.
    struct Teardown: Sendable {
        /// True when no live process of the group remained at the end.
        var confirmedEmpty: Bool
        /// True when SIGKILL was needed.
        var killed: Bool
        /// How long the teardown took.
        var seconds: Double
    }

    /// Tears the whole group down and removes the temp folder: SIGTERM to the group, up to `grace` seconds for it
    /// to empty, then SIGKILL to the group and up to 5 s more. Blocking: call it on a dedicated thread.
    func terminate(grace: Double) -> Teardown {
        let start = monotonicSeconds()
        kill(-pid, SIGTERM)
        var killed = false
        var empty = waitForEmptyGroup(until: start + grace)
        if !empty {
            killed = true
            kill(-pid, SIGKILL)
            empty = waitForEmptyGroup(until: monotonicSeconds() + 5)
        }
        close(commandFD)
        close(eventFD)
        try? FileManager.default.removeItem(atPath: temporaryDirectory)
        return Teardown(confirmedEmpty: empty, killed: killed, seconds: monotonicSeconds() - start)
    }

    /// Reaps the leader when it exits and waits until no live (non-zombie) process has the group id.
    ///
    /// Members that outlive the leader are re-parented to init, which reaps them on its own schedule; a zombie
    /// holds no resources, so it does not count.
    private func waitForEmptyGroup(until deadline: Double) -> Bool {
        var leaderReaped = false
        while true {
            if !leaderReaped {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result == -1 && errno == ECHILD) { leaderReaped = true }
            }
            if leaderReaped && BrowserProcess.liveMembers(ofGroup: pid).isEmpty { return true }
            if monotonicSeconds() >= deadline { return false }
            usleep(10_000)
        }
    }

    /// Pids of non-zombie processes whose process group is `group` (from `/proc/<pid>/stat`, field 5).
    static func liveMembers(ofGroup group: pid_t) -> [pid_t] {
        if kill(-group, 0) == -1 && errno == ESRCH { return [] }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var members: [pid_t] = []
        for entry in entries {
            guard let pid = pid_t(entry),
                let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            // After ')': [0] state, [1] ppid, [2] pgrp.
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { continue }
            members.append(pid)
        }
        return members
    }
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// Runs blocking `work` on a new thread and waits for it without occupying a cooperative thread.
/// Not cancellable on purpose: it is used for teardown, which must finish even when the caller is cancelled.
func onDedicatedThread<T: Sendable>(name: String, _ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.name = name
        thread.start()
    }
}
