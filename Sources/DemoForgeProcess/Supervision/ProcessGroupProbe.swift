import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads `/proc/<pid>/stat` fields needed to reason about process groups.
struct ProcStat: Sendable, Equatable {
    let pid: Int32
    /// One letter: R, S, D, Z, T ...
    let state: Character
    let parentPID: Int32
    let processGroup: Int32
    let session: Int32
    /// Field 22, clock ticks after boot.
    let startTime: UInt64

    var isZombie: Bool { state == "Z" || state == "X" }

    static func read(_ pid: Int32) -> ProcStat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After the command name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
            let group = Int32(fields[2]), let session = Int32(fields[3]), let start = UInt64(fields[19])
        else { return nil }
        return ProcStat(
            pid: pid, state: state, parentPID: parent, processGroup: group, session: session, startTime: start)
    }
}

/// Finds the members of a process group by scanning `/proc`.
enum ProcessGroupProbe {
    /// Every process whose pgid is `pgid`, zombies included.
    static func members(of pgid: Int32) -> [ProcStat] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.compactMap { pid in
            guard let stat = ProcStat.read(pid), stat.processGroup == pgid else { return nil }
            return stat
        }
    }

    /// Members that are not zombies.
    static func liveMembers(of pgid: Int32) -> [ProcStat] {
        members(of: pgid).filter { !$0.isZombie }
    }

    /// Whether `/proc/<pid>/environ` holds `name=value` (false when unreadable).
    static func environment(of pid: Int32, contains name: String, value: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        let wanted = Array("\(name)=\(value)".utf8)
        return data.split(separator: 0, omittingEmptySubsequences: true).contains { Array($0) == wanted }
    }
}

/// Public view of process groups, for callers outside the supervisor (error messages, tests).
public enum ProcessGroups {
    /// Pids of the live (non-zombie) processes whose process group is `pgid`, from `/proc`.
    public static func livePids(ofGroup pgid: Int32) -> [Int32] {
        ProcessGroupProbe.liveMembers(of: pgid).map(\.pid)
    }
}
