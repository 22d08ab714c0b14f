import DemoForgeSystem
import Foundation
import Synchronization
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

/// Every suite of this target is nested in this one: `.serialized` applies recursively, so no two process
/// tests run at once (the descriptor and child counts in the soak test must not see other tests' work).
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ProcessTests {}

/// Collects lines from the monitor thread.
final class LineLog: Sendable {
    private let lines = Mutex<[OutputLine]>([])
    private let waiters = Mutex<[(String, CheckedContinuation<Void, Never>)]>([])

    @Sendable func append(_ line: OutputLine) {
        lines.withLock { $0.append(line) }
        let ready = waiters.withLock { list -> [CheckedContinuation<Void, Never>] in
            let hits = list.filter { line.text.hasPrefix($0.0) }.map(\.1)
            list.removeAll { line.text.hasPrefix($0.0) }
            return hits
        }
        for continuation in ready { continuation.resume() }
    }

    var texts: [String] { lines.withLock { $0.map(\.text) } }

    /// Returns once a line starting with `prefix` has arrived (the readiness signal of a test script).
    func waitForLine(startingWith prefix: String) async {
        await withCheckedContinuation { continuation in
            let already = lines.withLock { $0.contains { $0.text.hasPrefix(prefix) } }
            if already {
                continuation.resume()
                return
            }
            waiters.withLock { $0.append((prefix, continuation)) }
            // Re-check: the line may have arrived between the two locks.
            if lines.withLock({ $0.contains { $0.text.hasPrefix(prefix) } }) {
                let mine = waiters.withLock { list -> CheckedContinuation<Void, Never>? in
                    guard let index = list.firstIndex(where: { $0.0 == prefix }) else { return nil }
                    return list.remove(at: index).1
                }
                mine?.resume()
            }
        }
    }
}

/// True when no process of the group exists any more.
func groupGone(_ pgid: Int32) -> Bool {
    kill(-pgid, 0) == -1 && errno == ESRCH
}

/// True when no process with this pid exists (zombies count as existing).
func pidGone(_ pid: Int32) -> Bool {
    kill(pid, 0) == -1 && errno == ESRCH
}

/// A fresh temporary folder, removed by `cleanup`.
struct TempFolder {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "demoforge-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        // Resolved, so that `pwd` in a child prints the same string.
        path = base.resolvingSymlinksInPath().path
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: "\(path)/\(name)", atomically: true, encoding: .utf8)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Number of entries in /proc/self/fd.
func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Processes whose parent is this process (zombies included).
func childrenOfSelf() -> [Int32] {
    let me = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { ProcStat.read($0)?.parentPID == me }
}
