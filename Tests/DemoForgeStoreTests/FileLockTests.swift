import DemoForgeStore
import DemoForgeTesting
import Foundation
import Synchronization
import Testing

@Suite struct FileLockTests {
    @Test func reentrantAcquisitionThrowsInsteadOfDeadlocking() async throws {
        let folder = TemporaryFolder("lock-reentrant")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let locks = FileLocks(timeout: .seconds(5))
        for (outer, inner) in [(LockMode.exclusive, LockMode.exclusive), (.exclusive, .shared), (.shared, .exclusive)] {
            await #expect {
                try await locks.withLock(file, outer) {
                    try await locks.withLock(file, inner) { () }
                }
            } throws: { error in
                (error as? StoreError)?.code == .lockReentrant
                    && "\(error)" == "The \(inner.rawValue) lock on \(file.path) is already held by this task; re-entering it would deadlock"
            }
        }
        // The lock is free again afterwards.
        try await locks.withLock(file, .exclusive) { () }
    }

    @Test func twoFilesHaveIndependentLocks() async throws {
        let folder = TemporaryFolder("lock-two")
        defer { folder.remove() }
        let locks = FileLocks(timeout: .milliseconds(300))
        let a = folder.url.appendingPathComponent("a.json")
        let b = folder.url.appendingPathComponent("b.json")
        try await locks.withLock(a, .exclusive) {
            try await locks.withLock(b, .exclusive) { () }
        }
    }

    @Test func inProcessTimeoutNamesFileModeAndHolder() async throws {
        let folder = TemporaryFolder("lock-timeout")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let holding = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await FileLocks(timeout: .seconds(5)).withLock(file, .exclusive) {
                holding.continuation.yield()
                for await _ in release.stream { break }
            }
        }
        for await _ in holding.stream { break }
        let started = ContinuousClock.now
        await #expect {
            try await FileLocks(timeout: .milliseconds(300)).withLock(file, .shared) { () }
        } throws: { error in
            "\(error)" == "Timed out after 0.3 s waiting for the shared lock on \(file.path): held by pid \(getpid()) (exclusive)"
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(290) && waited < .seconds(2))
        release.continuation.finish()
        try await holder.value
    }

    @Test func waitingWriterIsNotStarvedByNewReaders() async throws {
        let folder = TemporaryFolder("lock-starve")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let locks = FileLocks(timeout: .seconds(10))
        let order = Shared<[String]>([])
        let firstReaderIn = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await locks.withLock(file, .shared) {
                    firstReaderIn.continuation.yield()
                    try await Task.sleep(for: .milliseconds(300))
                    order.withLock { $0.append("reader0") }
                }
            }
            for await _ in firstReaderIn.stream { break }
            group.addTask {
                try await locks.withLock(file, .exclusive) { order.withLock { $0.append("writer") } }
            }
            // Let the writer queue up, then send a stream of new readers.
            try await Task.sleep(for: .milliseconds(50))
            for index in 1...5 {
                group.addTask {
                    try await locks.withLock(file, .shared) { order.withLock { $0.append("reader\(index)") } }
                }
            }
            try await group.waitForAll()
        }
        let seen = order.withLock { $0 }
        #expect(seen.count == 7)
        #expect(Array(seen.prefix(2)) == ["reader0", "writer"])
    }

    @Test(.timeLimit(.minutes(1))) func killedHolderReleasesAtOnce() async throws {
        let folder = TemporaryFolder("lock-kill")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let holder = try await offPool { try LockHolderProcess(lockFile: file.path + ".lock", mode: "exclusive") }
        kill(holder.process.processIdentifier, SIGKILL)
        try await offPool { holder.process.waitUntilExit() }
        let started = ContinuousClock.now
        try await FileLocks(timeout: .seconds(5)).withLock(file, .exclusive) { () }
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    @Test(.timeLimit(.minutes(1))) func liveHolderIsNeverRobbed() async throws {
        let folder = TemporaryFolder("lock-live")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let holder = try await offPool { try LockHolderProcess(lockFile: file.path + ".lock", mode: "exclusive") }
        let pid = holder.process.processIdentifier
        for _ in 0..<2 {
            await #expect {
                try await FileLocks(timeout: .milliseconds(500)).withLock(file, .exclusive) { () }
            } throws: { error in
                (error as? StoreError)?.code == .lockTimeout
                    && "\(error)" == "Timed out after 0.5 s waiting for the exclusive lock on \(file.path): held by pid \(pid) (exclusive)"
            }
        }
        #expect(try await offPool { try holder.release() } == "released")
        #expect(holder.process.terminationStatus == 0)
        try await FileLocks(timeout: .seconds(2)).withLock(file, .exclusive) { () }
    }

    @Test(.timeLimit(.minutes(1))) func foreignReaderDoesNotLetNewReadersStarveAWriter() async throws {
        let folder = TemporaryFolder("lock-turnstile")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let reader = try await offPool { try LockHolderProcess(lockFile: file.path + ".lock", mode: "shared") }
        let writerDone = Shared(false)
        let writer = Task {
            try await FileLocks(timeout: .seconds(10)).withLock(file, .exclusive) { writerDone.withLock { $0 = true } }
        }
        try await Task.sleep(for: .milliseconds(200))
        // While the writer waits for the foreign reader, another process's new reader must wait behind it.
        let late = Task.detached {
            try await Task.sleep(for: .milliseconds(100))
            return try await OtherProcessLocks.sharedAcquire(file: file)
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(writerDone.withLock { $0 } == false)
        _ = try await offPool { try reader.release() }
        try await writer.value
        #expect(writerDone.withLock { $0 } == true)
        #expect(try await late.value == true)
    }
}

/// A python process holding an OFD lock (Tests/Fixtures/lock_holder.py).
final class LockHolderProcess: @unchecked Sendable {
    let process: Process
    private let input = Pipe()
    private let output = Pipe()

    init(lockFile: String, mode: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = CommandRunner.packageRoot.appendingPathComponent("Tests/Fixtures/lock_holder.py").path
        process.arguments = ["python3", script, lockFile, mode]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let line = readLine()
        precondition(line.hasPrefix("locked "), "lock holder said \(line)")
    }

    func readLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let data = output.fileHandleForReading.readData(ofLength: 1)
            if data.isEmpty || data.first == 10 { break }
            bytes.append(contentsOf: data)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Tells the holder to release; returns its last line.
    func release() throws -> String {
        input.fileHandleForWriting.write(Data("go\n".utf8))
        let line = readLine()
        process.waitUntilExit()
        return line
    }
}

/// A reader in another process following the turnstile protocol: shared byte 1, then shared byte 0.
enum OtherProcessLocks {
    static func sharedAcquire(file: URL) async throws -> Bool {
        let code = """
            import fcntl, os, struct
            fd = os.open("\(file.path).lock", os.O_RDWR | os.O_CREAT, 0o644)
            for start in (1, 0):
                fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, start, 1, 0))
            print("ok")
            """
        let result = try await offPool { try CommandRunner.run("/usr/bin/env", ["python3", "-c", code]) }
        return result.status == 0 && result.stdout == "ok\n"
    }
}

/// A value shared between test tasks.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}
