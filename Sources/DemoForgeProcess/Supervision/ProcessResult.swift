import Foundation

/// How the group leader ended, as `waitpid` reported it.
public enum TerminationStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit` with this code.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)
    /// Someone else reaped it (e.g. `SIGCHLD` ignored process-wide), so the status is unknown.
    case unknown

    /// Decodes a `waitpid` status word (the `WIFEXITED`/`WTERMSIG` macros are not imported into Swift).
    init(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(low)
        }
    }

    /// `exited with status 3`, `killed by signal 9`, `exit status unknown`.
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        case .unknown: return "exit status unknown"
        }
    }
}

/// Why supervision ended.
public enum StopReason: Sendable, Hashable {
    /// The leader exited on its own (whatever its status).
    case exited
    /// No byte on stdout or stderr for this many seconds.
    case inactivityTimeout(seconds: Double)
    /// The process ran longer than this many seconds in total.
    case maxDuration(seconds: Double)
    /// The awaiting task was cancelled.
    case cancelled
    /// ``SupervisedProcess/terminate()`` was called.
    case stopped

    /// A stable name for JSON and events: `exited`, `inactivityTimeout`, `maxDuration`, `cancelled`, `stopped`.
    public var name: String {
        switch self {
        case .exited: return "exited"
        case .inactivityTimeout: return "inactivityTimeout"
        case .maxDuration: return "maxDuration"
        case .cancelled: return "cancelled"
        case .stopped: return "stopped"
        }
    }

    /// True for the two timers.
    public var isTimeout: Bool {
        switch self {
        case .inactivityTimeout, .maxDuration: return true
        default: return false
        }
    }
}

/// The outcome of one supervised run.
public struct ProcessResult: Sendable {
    /// The leader's pid, which is also the process group id.
    public let pid: Int32
    /// What ran.
    public let argv: [String]
    /// How the leader ended.
    public let exitStatus: TerminationStatus
    /// Why supervision ended.
    public let stopReason: StopReason
    /// True when SIGTERM was not enough and SIGKILL was sent to the group.
    public let killEscalated: Bool
    /// True when the group was confirmed empty (`kill(-pgid, 0)` = ESRCH, or only unreapable zombies left).
    public let groupEmptyConfirmed: Bool
    /// Wall-clock start.
    public let startedAt: Date
    /// Seconds from spawn until supervision ended (teardown included).
    public let durationSeconds: Double
    /// The last ``SupervisionOptions/retainedLines`` lines, partial trailing output included.
    public let lines: [OutputLine]
    /// How many lines were delivered in total.
    public let lineCount: Int

    /// True when the leader exited on its own with status 0.
    public var succeeded: Bool { stopReason == .exited && exitStatus == .exited(0) }

    /// One line for people: `exited with status 0`, `timed out: no output for 2 s`, `cancelled`.
    public var message: String {
        switch stopReason {
        case .exited: return exitStatus.description
        case .inactivityTimeout(let seconds): return "timed out: no output for \(formatSeconds(seconds)) s"
        case .maxDuration(let seconds): return "timed out: still running after \(formatSeconds(seconds)) s"
        case .cancelled: return "cancelled"
        case .stopped: return "stopped"
        }
    }
}

/// `2` for 2.0, `1.5` for 1.5: seconds as people write them.
func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded(), abs(seconds) < 1e15 { return String(Int64(seconds)) }
    return String(format: "%g", seconds)
}
