import DemoForgeProcess
import DemoForgeSystem
import Foundation

/// Looks at live processes through /proc, for tests that must prove nothing was left behind.
public enum ProcessInspection {
    /// Pids of live (non-zombie) processes in process group `pgid`.
    public static func liveMembers(ofGroup pgid: Int32) -> [Int32] {
        ProcessGroups.livePids(ofGroup: pgid)
    }

    /// Waits up to `seconds` for `condition`, checking every 20 ms.
    public static func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// The number of open descriptors of a process.
    public static func descriptorCount(pid: Int32 = getpid()) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }
}

/// Reads a child's pipe line by line (blocking; call through ``offPool``).
public final class LineSource: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    public init(_ pipe: Pipe) { handle = pipe.fileHandleForReading }

    /// The next line, or nil at end of file.
    public func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let data = handle.availableData
            if data.isEmpty {
                if buffer.isEmpty { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer += data
        }
    }

    /// Reads lines until one contains `text`; returns it, or nil at end of file.
    public func waitFor(_ text: String) -> String? {
        while let line = next() {
            if line.contains(text) { return line }
        }
        return nil
    }
}
