#if canImport(Glibc)
import Glibc
#endif
import DemoForgeSystem
import Foundation
import Synchronization

/// Whole-file writes that readers never see torn: temp file, fsync, rename, fsync the folder.
///
/// The temp file is `<name>.tmp.<pid>.<random>` in the target's folder, so ``TempSweeper`` can tell
/// whose it is after a crash.
public enum AtomicFile {
    /// Writes `data` to `url` durably and atomically. Writes to the same path from this process are serialised.
    public static func write(_ data: Data, to url: URL) throws(StoreError) {
        let path = url.path
        let gate = PathGates.shared.gate(for: path)
        gate.lock()
        defer { gate.unlock() }
        try writeUnserialised(data, to: path)
    }

    /// Pretty-prints `value` (sorted keys) and writes it atomically.
    public static func write(_ value: JSONValue, to url: URL) throws(StoreError) {
        try write(Data(value.prettyPrinted().utf8), to: url)
    }

    /// The temp name for `path` owned by this process.
    public static func tempPath(for path: String) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return "\(path).tmp.\(getpid()).\(random)"
    }

    private static func writeUnserialised(_ data: Data, to path: String) throws(StoreError) {
        let folder = (path as NSString).deletingLastPathComponent
        let temp = tempPath(for: path)
        do {
            let fd = try valueOrErrno("open", temp) { open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            var closed = false
            defer { if !closed { close(fd) } }
            do {
                try writeAll(fd, data, path: temp)
                try valueOrErrno("fsync", temp) { fsync(fd) }
            } catch {
                unlink(temp)
                throw error
            }
            closed = true
            close(fd)
            if faultPoint("atomic-write-before-rename") {
                // Test-only: announce and wait to be killed between fsync and rename.
                let line = "FAULT atomic-write-before-rename \(temp)\n"
                _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
                while true { pause() }
            }
            do {
                try valueOrErrno("rename", temp) { rename(temp, path) }
            } catch {
                unlink(temp)
                throw error
            }
            try fsyncDirectory(folder)
        } catch {
            throw StoreError(.io, "Cannot write \(path): \(error)", underlying: error)
        }
    }

    /// Writes every byte of `data`, continuing after short writes.
    public static func writeAll(_ fd: Int32, _ data: Data, path: String) throws(SystemError) {
        var failure: SystemError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard var base = raw.baseAddress else { return }
            var remaining = raw.count
            while remaining > 0 {
                do {
                    let n = try valueOrErrno("write", path) { Glibc.write(fd, base, remaining) }
                    base += n
                    remaining -= n
                } catch {
                    failure = error as? SystemError ?? SystemError(call: "write", subject: path, errno: EIO)
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// fsyncs a folder so that a rename in it is durable.
    public static func fsyncDirectory(_ folder: String) throws(SystemError) {
        let fd = try valueOrErrno("open", folder) { open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try valueOrErrno("fsync", folder) { fsync(fd) }
    }

    /// Reads a whole file; `.notFound` when it does not exist.
    public static func read(_ url: URL) throws(StoreError) -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) {
                throw StoreError(.notFound, "\(url.path) does not exist")
            }
            throw StoreError(.io, "Cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// Reads and parses a JSON file; `.corrupt` with line and column when it is not valid JSON.
    public static func readJSON(_ url: URL) throws(StoreError) -> JSONValue {
        let data = try read(url)
        do {
            return try JSONValue.parse(data)
        } catch {
            throw StoreError(.corrupt, "\(url.path) is not valid JSON: \(error)", underlying: error)
        }
    }
}

/// One in-process mutex per path, so that concurrent writers of the same file in this process take turns.
final class PathGates: Sendable {
    static let shared = PathGates()
    private let gates = Mutex<[String: NSLock]>([:])

    func gate(for path: String) -> NSLock {
        gates.withLock { table in
            if let gate = table[path] { return gate }
            let gate = NSLock()
            table[path] = gate
            return gate
        }
    }
}
