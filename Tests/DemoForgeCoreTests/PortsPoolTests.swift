import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization
import Testing

@testable import DemoForgeCore

#if canImport(Glibc)
    import Glibc
#endif

/// Port pool tests. They use fixed ports 18081...18100 (not the default range), hence `.serialized`.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct PortsPoolTests {
    let folder: URL

    init() throws { folder = try makeTempFolder("ports") }

    func writeLease(port: Int, owner: ProcessIdentity, slug: String) throws {
        let record = PortLeaseRecord(port: port, owner: owner, slug: slug, createdAt: Date())
        try Data(record.json.compact().utf8).write(to: folder.appendingPathComponent("\(port).lease"))
    }

    func readLease(port: Int) throws -> PortLeaseRecord? {
        PortLeaseRecord.parse(try Data(contentsOf: folder.appendingPathComponent("\(port).lease")))
    }

    @Test func leaseWritesFileAndReleaseRemovesIt() async throws {
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18081)
        let record = try #require(try readLease(port: 18081))
        #expect(record.owner == ProcessIdentity.current)
        #expect(record.slug == "acme")
        #expect(try pool.leases().map(\.port) == [18081])
        let second = try await pool.lease(slug: "beta")
        #expect(second.port == 18082)
        lease.release()
        #expect(leaseFiles(folder) == ["18082.lease"])
        second.release()
        #expect(leaseFiles(folder) == [])
        #expect(try pool.leases() == [])
    }

    @Test func twoPoolsNeverHandOutTheSamePortToTwentyConcurrentLeasers() async throws {
        let first = try PortPool(range: 18081...18100, leaseFolder: folder)
        let second = try PortPool(range: 18081...18100, leaseFolder: folder)
        // Half of the ports start with stale leases, so that concurrent reclaims race too.
        let dead = try SleepingChild()
        dead.stop()
        for port in stride(from: 18081, through: 18100, by: 2) {
            try writeLease(port: port, owner: dead.identity, slug: "ghost")
        }
        let gate = Gate(count: 20)
        let tracker = HeldPorts()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<20 {
                let pool = index % 2 == 0 ? first : second
                group.addTask {
                    let lease = try await pool.lease(slug: "client-\(index)")
                    let port = lease.port
                    tracker.take(port)
                    await gate.arrive()  // every lease is held at once here
                    tracker.give(port)
                    lease.release()
                    return port
                }
            }
            var ports: [Int] = []
            for try await port in group { ports.append(port) }
            #expect(Set(ports) == Set(18081...18100))
        }
        #expect(tracker.duplicates.withLock { $0 } == [])
        #expect(leaseFiles(folder) == [])

        // Churn: lease/release in a loop from both pools; no port is ever held twice at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                let pool = index % 2 == 0 ? first : second
                group.addTask {
                    for _ in 0..<10 {
                        let lease = try await pool.lease(slug: "churn-\(index)")
                        let port = lease.port
                        tracker.take(port)
                        await Task.yield()
                        tracker.give(port)
                        lease.release()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(tracker.duplicates.withLock { $0 } == [])
        #expect(leaseFiles(folder) == [])
    }

    @Test(arguments: ["127.0.0.1", "0.0.0.0", "::1"])
    func foreignListenerIsSkippedWithoutLeaseFile(address: String) async throws {
        if address == "::1" && !PortProbe.hasIPv6Loopback { return }
        let listener = try TestListener(address: address, port: 18081)
        defer { listener.close() }
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18082)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("18081.lease").path))
        #expect(leaseFiles(folder) == ["18082.lease"])
        lease.release()
    }

    @Test func portWithOnlyATimeWaitConnectionIsHandedOut() async throws {
        let listener = try TestListener(address: "127.0.0.1", port: 18081)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(18081).bigEndian)
        address.sin_addr = in_addr(s_addr: INADDR_LOOPBACK.bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        let server = accept(listener.fd, nil, nil)  // already queued: returns at once
        close(server)  // the server side closes first, so it is the side that enters TIME_WAIT
        var byte: UInt8 = 0
        #expect(read(client, &byte, 1) == 0)
        close(client)
        listener.close()
        // State 06 (TIME_WAIT) with local port 18081 in /proc/net/tcp.
        guard case .some(let raw, _) = PortPool.readLease("/proc/net/tcp") else {
            Issue.record("cannot read /proc/net/tcp")
            return
        }
        let table = String(decoding: raw, as: UTF8.self)
        let local = ":" + String(18081, radix: 16, uppercase: true)
        #expect(table.split(separator: "\n").contains { $0.contains("0100007F\(local) ") && $0.contains(" 06 ") })
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18081)
        lease.release()
    }

    @Test func leaseOfExitedChildIsReclaimed() async throws {
        let child = try SleepingChild()
        child.stop()
        #expect(!child.identity.isAlive)
        try writeLease(port: 18081, owner: child.identity, slug: "gone")
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18081)
        let record = try #require(try readLease(port: 18081))
        #expect(record.owner == ProcessIdentity.current)
        #expect(record.slug == "acme")
        lease.release()
    }

    @Test func leaseOfLivePidWithOtherStartTimeIsReclaimed() async throws {
        let me = ProcessIdentity.current
        try writeLease(port: 18081, owner: ProcessIdentity(pid: me.pid, startTime: me.startTime + 1), slug: "reused")
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18081)
        #expect(try readLease(port: 18081)?.slug == "acme")
        lease.release()
    }

    @Test func leaseOfLiveOwnerIsRespected() async throws {
        let child = try SleepingChild()
        defer { child.stop() }
        try writeLease(port: 18081, owner: child.identity, slug: "alive")
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18082)
        #expect(try readLease(port: 18081)?.owner == child.identity)
        #expect(try readLease(port: 18081)?.slug == "alive")
        #expect(try await pool.reclaimStale() == [])
        lease.release()
        #expect(leaseFiles(folder) == ["18081.lease"])
    }

    @Test func allBusyErrorNamesCountAndHolders() async throws {
        let child = try SleepingChild()
        defer { child.stop() }
        try writeLease(port: 18084, owner: child.identity, slug: "delta")
        let listener = try TestListener(address: "127.0.0.1", port: 18085)
        defer { listener.close() }
        let pool = try PortPool(range: 18081...18085, leaseFolder: folder)
        let a = try await pool.lease(slug: "alpha")
        let b = try await pool.lease(slug: "bravo")
        let c = try await pool.lease(slug: "charlie")
        #expect([a.port, b.port, c.port] == [Int]([18081, 18082, 18083]))
        let me = getpid()
        let holders = [(me, "alpha, bravo, charlie"), (child.identity.pid, "delta")]
            .sorted { $0.0 < $1.0 }.map { "pid \($0.0): \($0.1)" }.joined(separator: "; ")
        let error = await #expect(throws: PortPoolError.self) { _ = try await pool.lease(slug: "echo") }
        #expect(error?.code == .exhausted)
        #expect(
            error?.message == "No free port in 18081...18085: 4 leased (\(holders)), 1 in use by other programs (18085)"
        )
        a.release()
        b.release()
        c.release()
    }

    @Test func errorBetweenLeaseAndUseLeavesNoLeaseFile() async throws {
        struct Boom: Error {}
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        func startServer() async throws {
            let lease = try await pool.lease(slug: "acme")
            #expect(leaseFiles(folder) == ["18081.lease"])
            if lease.port > 0 { throw Boom() }
            lease.release()
        }
        await #expect(throws: Boom.self) { try await startServer() }
        #expect(leaseFiles(folder) == [])
        await #expect(throws: Boom.self) {
            try await pool.withLease(slug: "acme") { port in
                #expect(port == 18081)
                throw Boom()
            }
        }
        #expect(leaseFiles(folder) == [])
        let shared = try await pool.lease(slug: "acme").shared()
        #expect(shared.port == 18081)
        shared.release()
        shared.release()
        #expect(!shared.isHeld)
        #expect(leaseFiles(folder) == [])
    }

    @Test func reclaimStaleRemovesDeadAndOldIncompleteLeasesOnly() async throws {
        let dead = try SleepingChild()
        dead.stop()
        let live = try SleepingChild()
        defer { live.stop() }
        try writeLease(port: 18081, owner: dead.identity, slug: "dead")
        try writeLease(port: 18082, owner: live.identity, slug: "live")
        // Empty lease files: a creator between open and write. Recent ones are respected, old ones are not.
        let recent = folder.appendingPathComponent("18083.lease").path
        let old = folder.appendingPathComponent("18084.lease").path
        _ = FileManager.default.createFile(atPath: recent, contents: Data())
        _ = FileManager.default.createFile(atPath: old, contents: Data())
        var times = [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]
        #expect(utimes(old, &times) == 0)
        let pool = try PortPool(range: 18081...18090, leaseFolder: folder)
        #expect(try pool.leases().map(\.slug) == ["dead", "live"])
        #expect(try pool.leases().map(\.isStale) == [true, false])
        #expect(try await pool.reclaimStale() == [18081, 18084])
        #expect(leaseFiles(folder) == ["18082.lease", "18083.lease"])
        let lease = try await pool.lease(slug: "acme")
        #expect(lease.port == 18081)
        lease.release()
    }

    @Test func invalidRangeIsRefused() throws {
        #expect(throws: PortPoolError.self) { try PortPool(range: 0...10, leaseFolder: folder) }
    }
}

/// Ports held right now by test tasks, and any port seen held twice.
final class HeldPorts: Sendable {
    let held = Mutex<Set<Int>>([])
    let duplicates = Mutex<[Int]>([])

    func take(_ port: Int) {
        if !held.withLock({ $0.insert(port).inserted }) { duplicates.withLock { $0.append(port) } }
    }

    func give(_ port: Int) { held.withLock { _ = $0.remove(port) } }
}

/// Waits until `count` tasks have arrived.
actor Gate {
    let count: Int
    var arrived = 0
    var waiters: [CheckedContinuation<Void, Never>] = []

    init(count: Int) { self.count = count }

    func arrive() async {
        arrived += 1
        if arrived >= count {
            for waiter in waiters { waiter.resume() }
            waiters.removeAll()
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }
}
