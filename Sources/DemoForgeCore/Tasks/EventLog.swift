#if canImport(Glibc)
import Glibc
#endif
import DemoForgeStore
import DemoForgeSystem
import Foundation

/// An append-only JSON-lines log with an offset index, so reading from seq N costs time in proportion to
/// the events returned, not to the log's length.
///
/// `events.jsonl` holds one JSON object a line; seq = line number from 1. `events.idx` holds the byte offset
/// of each line as a little-endian UInt64 (entry N-1 for seq N). The log is the truth: the index is
/// repaired or rebuilt from it when it lags (a crash between the two writes) or is missing. A half-written
/// last line (a crash mid-append) is invisible to readers and cut off by the next append.
public struct EventLog: Sendable {
    public let logFile: URL
    public let indexFile: URL

    public init(folder: URL) {
        logFile = folder.appendingPathComponent("events.jsonl")
        indexFile = folder.appendingPathComponent("events.idx")
    }

    /// Appends lines built from their seq. Callers hold the log's exclusive lock.
    ///
    /// - Parameters:
    ///   - count: how many events to append.
    ///   - durable: fsync the log before returning.
    ///   - make: builds event `i` (0-based in this batch) given its seq.
    /// - Returns: the events as written.
    public func append(count: Int, durable: Bool, _ make: (Int, Int) -> TaskEvent) throws -> [TaskEvent] {
        let fd = try openFile(logFile.path, O_RDWR | O_CREAT)
        defer { close(fd) }
        let idx = try openFile(indexFile.path, O_RDWR | O_CREAT)
        defer { close(idx) }
        var size = try fileSize(fd)
        // Cut a half-written last line.
        if size > 0 {
            let lastComplete = try lastNewlineEnd(fd, size: size)
            if lastComplete != size {
                try sys("ftruncate", ftruncate(fd, off_t(lastComplete)))
                size = lastComplete
            }
        }
        var offsets = try repairIndex(fd: fd, idx: idx, logSize: size)
        var events: [TaskEvent] = []
        var blob = Data()
        var entries = Data()
        var position = size
        for i in 0..<count {
            let event = make(i, offsets + 1)
            var line = Data(event.toJSON().compact().utf8)
            line.append(0x0A)
            withUnsafeBytes(of: UInt64(position).littleEndian) { entries.append(contentsOf: $0) }
            position += UInt64(line.count)
            blob.append(line)
            events.append(event)
            offsets += 1
        }
        try pwriteAll(fd, blob, at: size, path: logFile.path)
        if durable { try sys("fsync", fsync(fd)) }
        try pwriteAll(idx, entries, at: UInt64(offsets - count) * 8, path: indexFile.path)
        return events
    }

    /// The number of complete events in the log.
    public func count() throws -> Int {
        guard let fd = try? openFile(logFile.path, O_RDONLY) else { return 0 }
        defer { close(fd) }
        let idx = try? openFile(indexFile.path, O_RDONLY)
        defer { if let idx { close(idx) } }
        let size = try fileSize(fd)
        let (indexed, lastOffset) = try indexedTail(idx: idx, logSize: size)
        var n = indexed
        try scanLines(fd, from: lastOffset ?? 0, to: size, skipFirst: lastOffset != nil) { _, _ in n += 1 }
        return n
    }

    /// Events with seq >= `from`, at most `limit` of them.
    public func read(from: Int, limit: Int) throws -> [TaskEvent] {
        let start = max(1, from)
        guard limit > 0, let fd = try? openFile(logFile.path, O_RDONLY) else { return [] }
        defer { close(fd) }
        let idx = try? openFile(indexFile.path, O_RDONLY)
        defer { if let idx { close(idx) } }
        let size = try fileSize(fd)
        let (indexed, lastOffset) = try indexedTail(idx: idx, logSize: size)
        var offset: UInt64
        var seq: Int
        if start <= indexed, let idx {
            offset = try readIndexEntry(idx, start - 1)
            seq = start
        } else {
            // Past the index (it lags, or is missing): walk from its last entry.
            offset = lastOffset ?? 0
            seq = lastOffset == nil ? 1 : indexed
        }
        var events: [TaskEvent] = []
        var reader = LineReader(fd: fd, offset: offset, end: size)
        while events.count < limit, let line = try reader.next() {
            if seq >= start, let value = try? JSONValue.parse(line), let event = TaskEvent.from(value) {
                events.append(event)
            }
            seq += 1
        }
        return events
    }

    // MARK: - Index upkeep

    /// How many index entries point at complete lines, and the offset of the last such entry's line.
    private func indexedTail(idx: Int32?, logSize: UInt64) throws -> (Int, UInt64?) {
        guard let idx else { return (0, nil) }
        var entries = Int(try fileSize(idx) / 8)
        while entries > 0 {
            let offset = try readIndexEntry(idx, entries - 1)
            if offset < logSize { return (entries, offset) }
            entries -= 1
        }
        return (0, nil)
    }

    /// Makes the index match the log exactly; returns the number of lines.
    private func repairIndex(fd: Int32, idx: Int32, logSize: UInt64) throws -> Int {
        let rawEntries = Int(try fileSize(idx) / 8)
        var (entries, lastOffset) = try indexedTail(idx: idx, logSize: logSize)
        // An index entry must sit at a line start; if not, the index is not ours to trust: rebuild it.
        if let offset = lastOffset, offset > 0 {
            var byte: UInt8 = 0
            if pread(fd, &byte, 1, off_t(offset - 1)) != 1 || byte != 0x0A {
                entries = 0
                lastOffset = nil
            }
        }
        var missing = Data()
        try scanLines(fd, from: lastOffset ?? 0, to: logSize, skipFirst: lastOffset != nil) { start, _ in
            withUnsafeBytes(of: start.littleEndian) { missing.append(contentsOf: $0) }
        }
        if entries != rawEntries || !missing.isEmpty {
            try sys("ftruncate", ftruncate(idx, off_t(entries * 8)))
            try pwriteAll(idx, missing, at: UInt64(entries * 8), path: indexFile.path)
        }
        return entries + missing.count / 8
    }

    private func readIndexEntry(_ idx: Int32, _ entry: Int) throws -> UInt64 {
        var value: UInt64 = 0
        let n = pread(idx, &value, 8, off_t(entry * 8))
        guard n == 8 else { throw StoreError(.corrupt, "\(indexFile.path): entry \(entry) is unreadable") }
        return UInt64(littleEndian: value)
    }

    /// Calls `body(start, end)` for each complete line in [from, to); with `skipFirst`, the line at `from`
    /// is already known and only the ones after it are reported.
    private func scanLines(_ fd: Int32, from: UInt64, to: UInt64, skipFirst: Bool, _ body: (UInt64, UInt64) -> Void) throws {
        var reader = LineReader(fd: fd, offset: from, end: to)
        var first = true
        while let (start, end) = try reader.nextRange() {
            if !(first && skipFirst) { body(start, end) }
            first = false
        }
    }

    private func lastNewlineEnd(_ fd: Int32, size: UInt64) throws -> UInt64 {
        var end = size
        var buffer = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = end > 4096 ? end - 4096 : 0
            let n = pread(fd, &buffer, Int(end - start), off_t(start))
            guard n > 0 else { break }
            if let i = buffer[0..<n].lastIndex(of: 0x0A) { return start + UInt64(i) + 1 }
            end = start
        }
        return 0
    }

    private func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
        do {
            return try valueOrErrno("open", path) { open(path, flags | O_CLOEXEC, 0o644) }
        } catch {
            throw StoreError(.io, "Cannot open \(path): \(error)", underlying: error)
        }
    }

    private func fileSize(_ fd: Int32) throws -> UInt64 {
        var info = stat()
        try sys("fstat", fstat(fd, &info))
        return UInt64(info.st_size)
    }

    private func sys(_ call: String, _ result: Int32) throws {
        if result != 0 { throw StoreError(.io, "\(call) on \(logFile.path) failed: \(SystemError(call: call, errno: errno))") }
    }

    private func pwriteAll(_ fd: Int32, _ data: Data, at offset: UInt64, path: String) throws {
        var written = 0
        try data.withUnsafeBytes { raw in
            while written < raw.count {
                let n = pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(offset) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(.io, "write to \(path) failed: \(SystemError(call: "pwrite", errno: errno))")
                }
                written += n
            }
        }
    }
}

/// Reads complete lines from a descriptor between two offsets, in 64 KiB chunks.
struct LineReader {
    let fd: Int32
    var offset: UInt64
    let end: UInt64
    private var buffer: [UInt8] = []
    private var bufferStart: UInt64
    private var cursor = 0

    init(fd: Int32, offset: UInt64, end: UInt64) {
        self.fd = fd
        self.offset = offset
        self.end = end
        self.bufferStart = offset
    }

    /// The next complete line's bytes (without the newline), or nil at the end or at a partial line.
    mutating func next() throws -> Data? {
        guard let (start, stop) = try nextRange() else { return nil }
        let from = Int(start - bufferStart)
        return Data(buffer[from..<(from + Int(stop - start))])
    }

    /// The next complete line's [start, end) offsets, newline excluded.
    mutating func nextRange() throws -> (UInt64, UInt64)? {
        while true {
            if let newline = buffer[cursor...].firstIndex(of: 0x0A) {
                let start = bufferStart + UInt64(cursor)
                let stop = bufferStart + UInt64(newline)
                cursor = newline + 1
                return (start, stop)
            }
            // Keep the partial tail, read more.
            let fileOffset = bufferStart + UInt64(buffer.count)
            guard fileOffset < end else { return nil }
            buffer.removeSubrange(0..<cursor)
            bufferStart += UInt64(cursor)
            cursor = 0
            let want = Int(min(65536, end - fileOffset))
            var chunk = [UInt8](repeating: 0, count: want)
            let n = pread(fd, &chunk, want, off_t(fileOffset))
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(.io, "read failed: \(SystemError(call: "pread", errno: errno))")
            }
            if n == 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
