#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A process identified by its pid *and* its start time, so that a reused pid is never mistaken for it.
public struct ProcessIdentity: Codable, Hashable, Sendable {
    /// The process id.
    public let pid: Int32
    /// Field 22 of `/proc/<pid>/stat`: start time in clock ticks after boot.
    public let startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of the calling process.
    public static let current: ProcessIdentity = {
        let pid = getpid()
        return ProcessIdentity(pid: pid, startTime: ProcessIdentity.startTime(of: pid) ?? 0)
    }()

    /// Reads a process's start time from `/proc/<pid>/stat`, or nil if there is no such process.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ')': field 3 is state, so field 22 is at index 22 - 3 = 19.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// True when a process with this pid exists and started at the recorded time.
    public var isAlive: Bool {
        guard let now = ProcessIdentity.startTime(of: pid) else { return false }
        if now != startTime { return false }
        return !ProcessIdentity.isZombie(pid)
    }

    /// True when a process with this pid exists at all (any start time), zombies excluded.
    public static func pidExists(_ pid: Int32) -> Bool {
        if kill(pid, 0) == 0 || Glibc.errno == EPERM { return !isZombie(pid) }
        return false
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return false }
        let rest = text[text.index(after: close)...].drop(while: { $0 == " " })
        return rest.first == "Z"
    }
}
