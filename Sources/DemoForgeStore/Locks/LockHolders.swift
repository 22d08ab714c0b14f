import Foundation

/// Finds which processes hold an OFD lock on a file.
///
/// `F_OFD_GETLK` reports `l_pid = -1` for open-file-description locks, so the holder is found the way
/// `lslocks` does it: every process's descriptors that point at the lock file, and their `fdinfo` lock lines.
/// Only used to word a timeout error, so its cost (a walk of `/proc`) is paid on the slow path alone.
enum LockHolders {
    struct Holder: Sendable {
        let pid: Int32
        let mode: String
    }

    static func find(lockPath: String) -> [Holder] {
        let resolved = (lockPath as NSString).resolvingSymlinksInPath
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var holders: [Holder] = []
        for entry in pids {
            guard let pid = Int32(entry) else { continue }
            let fdFolder = "/proc/\(pid)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdFolder) else { continue }
            for fd in fds {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdFolder)/\(fd)"),
                    target == resolved || target == lockPath
                else { continue }
                guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else {
                    continue
                }
                for line in info.split(separator: "\n") where line.hasPrefix("lock:") {
                    // lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:16220355 0 0
                    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                    guard let kind = fields.first(where: { $0 == "READ" || $0 == "WRITE" }) else { continue }
                    // Byte 1 is the turnstile; only holders of byte 0 hold the lock itself.
                    if let startField = fields.dropLast().last, startField != "0" { continue }
                    holders.append(Holder(pid: pid, mode: kind == "WRITE" ? "exclusive" : "shared"))
                }
            }
        }
        var seen = Set<String>()
        return holders.filter { seen.insert("\($0.pid)-\($0.mode)").inserted }
    }
}
