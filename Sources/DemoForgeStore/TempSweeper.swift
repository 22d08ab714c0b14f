import DemoForgeSystem
import Foundation

/// Removes temp files left by ``AtomicFile`` writers that died.
///
/// Only names of the form `<name>.tmp.<pid>.<random>` are considered. One is removed when its pid is not a
/// live process, or when it is older than the age limit (a live but stuck writer). Nothing else is touched.
public struct TempSweeper: Sendable {
    /// Temp files older than this are removed even if their owner lives.
    public let maxAge: Double

    public init(maxAgeSeconds: Double) {
        self.maxAge = maxAgeSeconds
    }

    /// The pid in a temp file's name, or nil when the name is not one of ours.
    public static func ownerPid(ofTempName name: String) -> Int32? {
        // <name>.tmp.<pid>.<random>: split from the right so that dots in <name> are allowed.
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 4 else { return nil }
        let random = parts[parts.count - 1]
        let pidText = parts[parts.count - 2]
        guard parts[parts.count - 3] == "tmp", !parts[0..<(parts.count - 3)].joined().isEmpty,
            !random.isEmpty, random.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
            !pidText.isEmpty, pidText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let pid = Int32(pidText), pid > 0
        else { return nil }
        return pid
    }

    /// Sweeps the given folders (not recursively) and returns the paths removed.
    @discardableResult
    public func sweep(folders: [URL], now: Date = Date()) -> [String] {
        var removed: [String] = []
        let fm = FileManager.default
        for folder in folders {
            guard let names = try? fm.contentsOfDirectory(atPath: folder.path) else { continue }
            for name in names {
                guard let pid = Self.ownerPid(ofTempName: name) else { continue }
                let path = folder.appendingPathComponent(name).path
                guard let attributes = try? fm.attributesOfItem(atPath: path),
                    attributes[.type] as? FileAttributeType == .typeRegular
                else { continue }
                let modified = (attributes[.modificationDate] as? Date) ?? now
                let tooOld = now.timeIntervalSince(modified) > maxAge
                if tooOld || !ProcessIdentity.pidExists(pid) {
                    if unlink(path) == 0 { removed.append(path) }
                }
            }
        }
        return removed
    }
}
