import CDemoForgeShims
import DemoForgeStore
import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The workspace's pool of preview ports, shared by every DemoForge process through lease files.
///
/// A lease is the file `<leaseFolder>/<port>.lease`, created with `O_CREAT|O_EXCL` (so two processes never
/// both win a port) and holding the owner's ``ProcessIdentity`` and slug. A lease whose owner is dead, or whose
/// pid now belongs to another process, is reclaimed; reclaiming happens under an exclusive open-file-description
/// lock on `<leaseFolder>/reclaim.lock`, so two reclaimers never remove a lease that a third has just created.
/// A port is handed out only if it also binds on 127.0.0.1, 0.0.0.0 and (where IPv6 exists) ::1.
public struct PortPool: Sendable {
    /// The ports handed out, lowest first.
    public let range: ClosedRange<Int>
    /// The folder of lease files (`.demoforge/run/ports`).
    public let leaseFolder: URL
    /// How long to wait for the reclaim lock before failing.
    public var lockTimeoutSeconds: Double = 10
    /// A lease file without complete content is treated as being written for this long, then as stale
    /// (its creator died between `open` and `write`).
    public var incompleteLeaseGraceSeconds: Double = 10

    /// Creates a pool; creates `leaseFolder` if needed.
    ///
    /// - Throws: ``PortPoolError/Code/invalidRange`` for ports outside 1...65535, `.io` if the folder cannot be made.
    public init(range: ClosedRange<Int>, leaseFolder: URL) throws(PortPoolError) {
        guard range.lowerBound >= 1, range.upperBound <= 65535 else {
            throw PortPoolError(.invalidRange, "Port range \(range) is outside 1...65535")
        }
        self.range = range
        self.leaseFolder = leaseFolder
        do {
            try FileManager.default.createDirectory(at: leaseFolder, withIntermediateDirectories: true)
        } catch {
            throw PortPoolError(.io, "Cannot create lease folder \(leaseFolder.path): \(error.localizedDescription)")
        }
    }

    /// The lease file of `port`.
    public func leasePath(_ port: Int) -> String {
        leaseFolder.appendingPathComponent("\(port).lease").path
    }

    /// Leases the lowest free port of the range for `slug`.
    ///
    /// - Parameters:
    ///   - slug: the client the port is for (shown in listings and in the "all busy" error).
    ///   - excluding: ports not to hand out (e.g. one a server just failed on with "address in use").
    /// - Throws: `.exhausted` naming how many ports are leased and by whom, and how many other programs hold.
    public func lease(slug: String, excluding: Set<Int> = []) async throws(PortPoolError) -> PortLease {
        var leasedBy: [PortLeaseRecord] = []
        var incomplete: [Int] = []
        var foreign: [Int] = []
        for port in range where !excluding.contains(port) {
            var reclaimed = false
            while true {
                switch try create(port: port, slug: slug) {
                case .created(let lease):
                    return lease
                case .foreign:
                    foreign.append(port)
                case .exists(let record, let stale):
                    if stale && !reclaimed {
                        reclaimed = true
                        try await withReclaimLock { () throws(PortPoolError) in
                            _ = try reclaimIfStale(port: port)
                        }
                        continue
                    }
                    if let record { leasedBy.append(record) } else { incomplete.append(port) }
                }
                break
            }
        }
        throw PortPoolError(
            .exhausted,
            Self.exhaustedMessage(
                range: range,
                leasedBy: leasedBy,
                incomplete: incomplete,
                foreign: foreign,
                excluded: excluding.filter { range.contains($0) }.count
            )
        )
    }

    /// Leases a port, runs `body` with it, and gives it back however `body` ends.
    public func withLease<T>(
        slug: String,
        _ body: (Int) async throws -> T
    ) async throws -> T {
        let lease = try await lease(slug: slug)
        do {
            let result = try await body(lease.port)
            lease.release()
            return result
        } catch {
            lease.release()
            throw error
        }
    }

    /// Every lease file of the folder (any process's), lowest port first; incomplete files are left out.
    public func leases() throws(PortPoolError) -> [PortLeaseRecord] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: leaseFolder.path)
        } catch {
            throw PortPoolError(.io, "Cannot list \(leaseFolder.path): \(error.localizedDescription)")
        }
        var records: [PortLeaseRecord] = []
        for name in names where name.hasSuffix(".lease") {
            guard let port = Int(name.dropLast(".lease".count)) else { continue }
            if case .some(let data, _) = Self.readLease(leasePath(port)), let record = PortLeaseRecord.parse(data) {
                records.append(record)
            }
        }
        return records.sorted { $0.port < $1.port }
    }

    /// Removes every lease of the range whose owner is gone (and incomplete files past their grace period).
    ///
    /// - Returns: the ports whose leases were removed, lowest first.
    @discardableResult
    public func reclaimStale() async throws(PortPoolError) -> [Int] {
        try await withReclaimLock { () throws(PortPoolError) in
            var removed: [Int] = []
            for port in range where try reclaimIfStale(port: port) {
                removed.append(port)
            }
            return removed
        }
    }
}

extension PortPool {
    enum Attempt: ~Copyable {
        case created(PortLease)
        case foreign
        case exists(PortLeaseRecord?, stale: Bool)
    }

    enum LeaseRead {
        case none
        case some(Data, modified: Date)
    }

    /// Tries to create the lease file of `port`, then test-binds the port.
    func create(port: Int, slug: String) throws(PortPoolError) -> Attempt {
        let path = leasePath(port)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            guard code == EEXIST else {
                throw PortPoolError(.io, "Cannot create lease \(path): \(String(cString: strerror(code)))")
            }
            switch Self.readLease(path) {
            case .none:
                return .exists(nil, stale: true)  // removed meanwhile: "reclaim" finds nothing and we retry.
            case .some(let data, let modified):
                if let record = PortLeaseRecord.parse(data) { return .exists(record, stale: record.isStale) }
                let old = Date().timeIntervalSince(modified) > incompleteLeaseGraceSeconds
                return .exists(nil, stale: old)
            }
        }
        let record = PortLeaseRecord(port: port, owner: .current, slug: slug, createdAt: Date())
        let fileID = FileID.of(fd: fd)
        do {
            try AtomicFile.writeAll(fd, Data(record.json.compact().utf8), path: path)
            close(fd)
        } catch {
            close(fd)
            unlink(path)
            throw PortPoolError(.io, "Cannot write lease \(path): \(error)", underlying: error)
        }
        guard let fileID else {
            unlink(path)
            throw PortPoolError(.io, "Cannot stat lease \(path)")
        }
        let lease = PortLease(port: port, slug: slug, path: path, fileID: fileID)
        if PortProbe.blocker(port: port) != nil {
            lease.release()
            return .foreign
        }
        return .created(lease)
    }

    /// Under the reclaim lock: removes `port`'s lease if it is stale. True when a file was removed.
    func reclaimIfStale(port: Int) throws(PortPoolError) -> Bool {
        let path = leasePath(port)
        guard case .some(let data, let modified) = Self.readLease(path) else { return false }
        let stale: Bool
        if let record = PortLeaseRecord.parse(data) {
            stale = record.isStale
        } else {
            stale = Date().timeIntervalSince(modified) > incompleteLeaseGraceSeconds
        }
        guard stale else { return false }
        if unlink(path) != 0 && errno != ENOENT {
            throw PortPoolError(.io, "Cannot remove stale lease \(path): \(String(cString: strerror(errno)))")
        }
        return true
    }

    static func readLease(_ path: String) -> LeaseRead {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .none }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .none }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
        return .some(data, modified: modified)
    }

    /// Runs `body` holding the store's exclusive lock on `<leaseFolder>/reclaim` (file `reclaim.lock`), shared by
    /// every process of the workspace; the holder keeps it only for a few file operations.
    func withReclaimLock<T: Sendable>(_ body: () throws(PortPoolError) -> T) async throws(PortPoolError) -> T {
        let guarded = leaseFolder.appendingPathComponent("reclaim")
        do {
            return try await FileLocks(timeout: .milliseconds(Int(lockTimeoutSeconds * 1000))).withLock(guarded, .exclusive) {
                try body()
            }
        } catch let error as PortPoolError {
            throw error
        } catch let error as StoreError where error.code == .lockTimeout {
            throw PortPoolError(.lockTimeout, error.message)
        } catch {
            throw PortPoolError(.io, "Cannot lock \(guarded.path).lock: \(error)")
        }
    }

    static func exhaustedMessage(
        range: ClosedRange<Int>,
        leasedBy: [PortLeaseRecord],
        incomplete: [Int],
        foreign: [Int],
        excluded: Int
    ) -> String {
        let byPid = Dictionary(grouping: leasedBy, by: { $0.owner.pid })
        let holders = byPid.keys.sorted().map { pid in
            "pid \(pid): " + byPid[pid]!.sorted { $0.port < $1.port }.map(\.slug).joined(separator: ", ")
        }
        var text = "No free port in \(range.lowerBound)...\(range.upperBound): \(leasedBy.count) leased"
        if !holders.isEmpty { text += " (" + holders.joined(separator: "; ") + ")" }
        text += ", \(foreign.count) in use by other programs"
        if !foreign.isEmpty { text += " (" + foreign.prefix(10).map(String.init).joined(separator: ", ") + ")" }
        if !incomplete.isEmpty { text += ", \(incomplete.count) being leased" }
        if excluded > 0 { text += ", \(excluded) excluded" }
        return text
    }
}
