import CDemoForgeShims
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child just started by ``ProcessSpawner``: its pid (also its pgid) and the parent's read ends.
struct SpawnedChild: Sendable {
    let pid: Int32
    /// Non-blocking, close-on-exec read end of the child's stdout.
    let stdoutFD: Int32
    /// Non-blocking, close-on-exec read end of the child's stderr.
    let stderrFD: Int32
}

/// `posix_spawn` into a new session with a clean descriptor table (see ``spawn(_:token:)``).
enum ProcessSpawner {
    /// The environment variable every supervised child (and, by inheritance, its descendants) carries, so
    /// that members of a leaderless group can be recognised after a crash.
    static let tokenVariable = "DEMOFORGE_SUPERVISION_TOKEN"

    /// Starts `spec` in a new session (pgid = sid = pid), stdin from `/dev/null`, stdout/stderr on pipes,
    /// the extra descriptors at their child numbers and every other descriptor closed.
    ///
    /// - Important: exec failure (not found, not executable) is thrown here, from `posix_spawn`'s own result;
    ///   it is never guessed later from an exit status of 127.
    static func spawn(_ spec: ProcessSpec, token: String) throws(ProcessError) -> SpawnedChild {
        Subreaper.enableOnce()
        guard let program = spec.argv.first, !program.isEmpty else {
            throw ProcessError(.invalidArgument, "cannot run an empty argv")
        }
        if let folder = spec.workingDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw ProcessError(
                    .invalidArgument, "cannot run \(program): working directory \(folder) does not exist",
                    program: program)
            }
        }
        for (childFD, parentFD) in spec.extraDescriptors
        where childFD < 3 || childFD > 1024 || fcntl(parentFD, F_GETFD) == -1 {
            throw ProcessError(
                .invalidArgument,
                "cannot run \(program): extra descriptor \(parentFD) -> child fd \(childFD) is invalid "
                    + "(child fds must be 3...1024, parent fd must be open)", program: program)
        }

        var environment = spec.environment ?? ProcessInfo.processInfo.environment
        environment[tokenVariable] = token
        let path = try resolve(program, searchPath: environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"])

        var opened = OpenDescriptors()
        defer { opened.closeAll() }
        let stdoutPipe = try opened.pipe(program: program)
        let stderrPipe = try opened.pipe(program: program)

        // Every source is first copied above the highest child target so that no dup2 can clobber a source
        // still needed, and so that dup2 never maps a descriptor onto its own number (which would keep
        // O_CLOEXEC set and lose it at exec).
        let highestTarget = max(2, spec.extraDescriptors.keys.max() ?? 2)
        var mappings: [(source: Int32, target: Int32)] = []
        mappings.append((try opened.dupAbove(stdoutPipe.write, highestTarget, program: program), 1))
        mappings.append((try opened.dupAbove(stderrPipe.write, highestTarget, program: program), 2))
        for (childFD, parentFD) in spec.extraDescriptors.sorted(by: { $0.key < $1.key }) {
            mappings.append((try opened.dupAbove(parentFD, highestTarget, program: program), childFD))
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var status: Int32 = 0
        if let folder = spec.workingDirectory { status = df_spawn_addchdir(&actions, folder) }
        if status == 0 { status = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        for mapping in mappings where status == 0 {
            status = posix_spawn_file_actions_adddup2(&actions, mapping.source, mapping.target)
        }
        // closefrom only covers fds above the highest target; the holes below it (3..<highest that are not
        // targets) are closed one by one, or descriptors opened without O_CLOEXEC elsewhere would leak in.
        let targets = Set(mappings.map(\.target))
        if highestTarget >= 3 {
            for fd in 3...highestTarget where status == 0 && !targets.contains(fd) {
                status = posix_spawn_file_actions_addclose(&actions, fd)
            }
        }
        if status == 0 { status = df_spawn_addclosefrom(&actions, highestTarget + 1) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        if status == 0 { status = posix_spawnattr_setsigmask(&attributes, &emptyMask) }
        // Ignored signals survive exec: reset every disposition so a child never starts ignoring SIGTERM/SIGPIPE.
        if status == 0 { status = posix_spawnattr_setsigdefault(&attributes, &allSignals) }
        let flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | df_posix_spawn_setsid()
        if status == 0 { status = posix_spawnattr_setflags(&attributes, flags) }
        if status != 0 {
            throw ProcessError(
                .spawnFailed, "cannot run \(program): preparing spawn failed: \(String(cString: strerror(status)))",
                program: program)
        }

        let argv: [UnsafeMutablePointer<CChar>?] = spec.argv.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        if result != 0 {
            let reason = String(cString: strerror(result))
            let code: ProcessError.Code =
                [ENOENT, EACCES, ENOEXEC, ENOTDIR, ELOOP, E2BIG, ETXTBSY].contains(result)
                ? .execFailed : .spawnFailed
            throw ProcessError(code, "cannot run \(program): \(reason)", program: program)
        }
        let child = SpawnedChild(pid: pid, stdoutFD: stdoutPipe.read, stderrFD: stderrPipe.read)
        opened.keep([stdoutPipe.read, stderrPipe.read])
        return child
    }

    /// Finds `program` like `execvp`: names with a `/` are used as they are, others are searched in `PATH`.
    static func resolve(_ program: String, searchPath: String?) throws(ProcessError) -> String {
        if program.contains("/") { return program }
        var sawNonExecutable = false
        for entry in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(
            separator: ":", omittingEmptySubsequences: false)
        {
            let folder = entry.isEmpty ? "." : String(entry)
            let candidate = folder + "/" + program
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            sawNonExecutable = true
        }
        if sawNonExecutable {
            throw ProcessError(
                .execFailed, "cannot run \(program): permission denied (not executable)", program: program)
        }
        throw ProcessError(.execFailed, "cannot run \(program): not found in PATH", program: program)
    }
}

/// Descriptors opened while preparing a spawn; everything not explicitly kept is closed on the way out.
private struct OpenDescriptors {
    private var fds: [Int32] = []

    mutating func pipe(program: String) throws(ProcessError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        if df_pipe2_cloexec(&ends, 0) != 0 {
            throw ProcessError(
                .spawnFailed, "cannot run \(program): pipe failed: \(String(cString: strerror(Glibc.errno)))",
                program: program)
        }
        fds.append(contentsOf: ends)
        // Only the parent's read end is non-blocking; the child's write end stays blocking as programs expect.
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        return (ends[0], ends[1])
    }

    mutating func dupAbove(_ fd: Int32, _ highest: Int32, program: String) throws(ProcessError) -> Int32 {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, highest + 1)
        if copy == -1 {
            throw ProcessError(
                .spawnFailed,
                "cannot run \(program): dup of fd \(fd) failed: \(String(cString: strerror(Glibc.errno)))",
                program: program)
        }
        fds.append(copy)
        return copy
    }

    mutating func keep(_ kept: [Int32]) { fds.removeAll { kept.contains($0) } }

    mutating func closeAll() {
        for fd in fds { close(fd) }
        fds.removeAll()
    }
}

/// Makes this process the reaper of its orphaned descendants, once.
///
/// - Important: without this, a grandchild whose parent died is re-parented to PID 1, and where PID 1 does not
///   reap (containers, micro-VMs) its zombie keeps `kill(-pgid, 0)` succeeding forever. As a subreaper we reap
///   members of our own groups (`waitpid(-pgid)`), so "group empty" can be confirmed. Orphans outside our
///   groups are not reaped by us (a documented side effect of this process-wide setting).
enum Subreaper {
    private static let enabled: Bool = df_set_child_subreaper() == 0

    static func enableOnce() { _ = enabled }
}
