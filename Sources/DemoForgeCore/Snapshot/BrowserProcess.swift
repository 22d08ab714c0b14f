import CDemoForgeShims
import DemoForgeProcess
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A headless Chromium run by the process supervisor in its own session and process group, talking DevTools
/// over fds 3 (commands in) and 4 (replies and events out).
///
/// The supervisor gives it what every child gets: closed descriptors, its output kept as lines, whole-group
/// teardown that reaps every member (the browser starts several), and a crash record when the supervisor has
/// a registry, so a browser left by a killed DemoForge is reaped by the next command.
final class BrowserProcess: Sendable {
    let process: SupervisedProcess
    /// The browser's pid; also its process group id and session id.
    var pid: pid_t { process.pid }
    /// Parent's end of the command pipe (child's fd 3), non-blocking.
    let commandFD: Int32
    /// Parent's end of the event pipe (child's fd 4), non-blocking.
    let eventFD: Int32
    /// Temp folder holding `profile/` (the user data dir).
    let temporaryDirectory: String
    private let log: LogRing

    private init(process: SupervisedProcess, commandFD: Int32, eventFD: Int32, temporaryDirectory: String, log: LogRing) {
        self.process = process
        self.commandFD = commandFD
        self.eventFD = eventFD
        self.temporaryDirectory = temporaryDirectory
        self.log = log
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

    /// Writing commands to a browser that has just exited must give EPIPE, not kill this process.
    static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// Starts the browser under `supervisor`; `grace` is the SIGTERM→SIGKILL wait of its teardown.
    static func launch(
        executable: String, extraArguments: [String], supervisor: ProcessSupervisor, grace: Double
    ) async throws(SnapshotError) -> BrowserProcess {
        _ = ignoreSIGPIPE
        var template = Array((NSTemporaryDirectory() + "/demoforge-browser-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SnapshotError(.launchFailed, "Cannot create a temp folder for the browser: \(errnoText())")
        }
        let temp = String(cString: made)
        let profile = temp + "/profile"
        mkdir(profile, 0o700)
        // [0] read end, [1] write end; close-on-exec here, mapped onto the child's fds 3 and 4 by the spawner.
        var commands: [Int32] = [-1, -1]
        var events: [Int32] = [-1, -1]
        guard df_pipe2_cloexec(&commands, 0) == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw SnapshotError(.launchFailed, "pipe2 failed: \(errnoText())")
        }
        guard df_pipe2_cloexec(&events, 0) == 0 else {
            close(commands[0])
            close(commands[1])
            try? FileManager.default.removeItem(atPath: temp)
            throw SnapshotError(.launchFailed, "pipe2 failed: \(errnoText())")
        }
        let log = LogRing(capacity: 200)
        let spec = ProcessSpec(
            [executable] + arguments(profile: profile, extra: extraArguments),
            extraDescriptors: [3: commands[0], 4: events[1]])
        let options = SupervisionOptions(terminationGraceSeconds: grace, killConfirmSeconds: 5, retainedLines: 20)
        let process: SupervisedProcess
        do {
            process = try await supervisor.start(spec, options: options) { line in log.append(line.text) }
        } catch {
            for fd in commands + events { close(fd) }
            try? FileManager.default.removeItem(atPath: temp)
            throw SnapshotError(.launchFailed, "Cannot start browser \(executable): \(error.message)")
        }
        // The child has its copies; the parent keeps only its own ends.
        close(commands[0])
        close(events[1])
        _ = fcntl(commands[1], F_SETFL, fcntl(commands[1], F_GETFL) | O_NONBLOCK)
        _ = fcntl(events[0], F_SETFL, fcntl(events[0], F_GETFL) | O_NONBLOCK)
        return BrowserProcess(process: process, commandFD: commands[1], eventFD: events[0], temporaryDirectory: temp, log: log)
    }

    /// The last `count` lines the browser wrote to stdout/stderr.
    func logTail(_ count: Int = 20) -> String {
        log.lines().suffix(count).joined(separator: "\n")
    }

    /// The outcome of ``terminate()``.
    struct Teardown: Sendable {
        /// True when no live process of the group remained at the end.
        var confirmedEmpty: Bool
        /// True when SIGKILL was needed.
        var killed: Bool
        /// How long the teardown took.
        var seconds: Double
    }

    /// Tears the whole group down (SIGTERM, grace, SIGKILL, confirm empty), closes the pipes and removes the
    /// temp folder. Runs to its end even when the caller is cancelled.
    func terminate() async -> Teardown {
        let start = monotonicSeconds()
        process.terminate()
        let result = await process.wait()
        close(commandFD)
        close(eventFD)
        try? FileManager.default.removeItem(atPath: temporaryDirectory)
        return Teardown(confirmedEmpty: result.groupEmptyConfirmed, killed: result.killEscalated, seconds: monotonicSeconds() - start)
    }
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
