/// What to run: an argv (never a shell unless argv itself is `sh -c ...`), where, and with what.
public struct ProcessSpec: Sendable, Hashable {
    /// The program and its arguments. `argv[0]` without a `/` is looked up in `PATH` (the child environment's
    /// `PATH` when ``environment`` sets one, otherwise this process's), like `execvp`.
    public var argv: [String]
    /// The child's working directory; nil keeps this process's. A relative `argv[0]` containing `/` is
    /// resolved inside it.
    public var workingDirectory: String?
    /// The complete child environment; nil inherits this process's environment.
    public var environment: [String: String]?
    /// Extra descriptors the child inherits, as `[childFD: parentFD]` (child fds must be 3 or higher).
    ///
    /// Used for Chromium's `--remote-debugging-pipe` (fds 3 and 4). Every other descriptor is closed in the child.
    public var extraDescriptors: [Int32: Int32]

    /// Creates a spec.
    public init(
        _ argv: [String],
        workingDirectory: String? = nil,
        environment: [String: String]? = nil,
        extraDescriptors: [Int32: Int32] = [:]
    ) {
        self.argv = argv
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.extraDescriptors = extraDescriptors
    }
}

/// How a process is watched: timers, teardown timing, and how much output the result keeps.
public struct SupervisionOptions: Sendable, Hashable {
    /// Stop the process when no byte arrived on stdout or stderr for this many seconds; nil = no limit.
    public var inactivityTimeoutSeconds: Double?
    /// Stop the process when it has run this many seconds in total; nil = no limit.
    public var maxDurationSeconds: Double?
    /// How long the group gets between SIGTERM and SIGKILL.
    public var terminationGraceSeconds: Double
    /// How long to wait for the group to vanish after SIGKILL before reporting it as not confirmed empty.
    public var killConfirmSeconds: Double
    /// How many of the last output lines ``ProcessResult/lines`` keeps (all lines still go to the callback).
    public var retainedLines: Int

    /// Creates options; every value has a default.
    public init(
        inactivityTimeoutSeconds: Double? = nil,
        maxDurationSeconds: Double? = nil,
        terminationGraceSeconds: Double = 5,
        killConfirmSeconds: Double = 5,
        retainedLines: Int = 1000
    ) {
        self.inactivityTimeoutSeconds = inactivityTimeoutSeconds
        self.maxDurationSeconds = maxDurationSeconds
        self.terminationGraceSeconds = terminationGraceSeconds
        self.killConfirmSeconds = killConfirmSeconds
        self.retainedLines = retainedLines
    }
}
