#if canImport(Glibc)
import Glibc
#endif
import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import Foundation

/// Runs `body` repeatedly for about `seconds` (at least `minimum` times); returns operations per second.
func throughput(seconds: Double, minimum: Int = 1, _ body: () throws -> Void) rethrows -> Double {
    let start = now()
    var n = 0
    while n < minimum || now() - start < seconds {
        try body()
        n += 1
    }
    return Double(n) / (now() - start)
}

/// Async variant of ``throughput(seconds:minimum:_:)``.
func throughputAsync(seconds: Double, minimum: Int = 1, _ body: () async throws -> Void) async rethrows -> Double {
    let start = now()
    var n = 0
    while n < minimum || now() - start < seconds {
        try await body()
        n += 1
    }
    return Double(n) / (now() - start)
}

enum EventRead {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "event-read")
        let sizes = options.quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000]
        let reads = options.quick ? 2_000 : 5_000
        report.parameters = [
            "logs": sizes.map(String.init).joined(separator: ","), "readsPerMeasure": String(reads),
            "read": "TaskStore.events(id, from:, limit: 10)", "runs": String(options.runs),
        ]
        let folder = try TempFolder("events")
        defer { folder.remove() }
        let workspace = ChildModes.workspace(folder.path)
        try workspace.ensureStateFolders()
        let store = TaskStore(workspace: workspace)
        for size in sizes {
            let task = try await store.create(client: "bench", kind: "bench").taskId
            var written = 0
            let buildStart = now()
            while written < size {
                let batch = min(10_000, size - written)
                try await store.appendBatch(
                    task, (0..<batch).map { i in ("output", "build", "line \(written + i) of a typical build log", nil) })
                written += batch
            }
            let buildSeconds = now() - buildStart
            var tail: [Double] = [], middle: [Double] = [], first: [Double] = []
            for _ in 0..<options.runs {
                tail.append(try timePerCall(reads) { _ = try store.events(task, from: size - 9, limit: 10) })
                middle.append(try timePerCall(reads) { _ = try store.events(task, from: size / 2, limit: 10) })
                first.append(try timePerCall(reads) { _ = try store.events(task, from: 1, limit: 10) })
            }
            let check = try store.events(task, from: size - 9, limit: 10)
            guard check.count == 10, check.last?.seq == size else { throw BenchError("tail read of \(size) log is wrong") }
            report.add("[\(size)] read last 10", Stats.median(tail), "µs/read")
            report.add("[\(size)] read 10 from the middle", Stats.median(middle), "µs/read")
            report.add("[\(size)] read first 10", Stats.median(first), "µs/read")
            report.add("[\(size)] build log with appendBatch(10k)", Double(size) / buildSeconds, "events/s")
        }
        // Single-event appends, as a running step does them, with and without fsync.
        for durable in [false, true] {
            var rates: [Double] = []
            var durableStore = store
            durableStore.durableEvents = durable
            let s = durableStore
            let task = try await s.create(client: "bench", kind: "bench").taskId
            for _ in 0..<options.runs {
                rates.append(try await throughputAsync(seconds: options.quick ? 0.5 : 1.5, minimum: 20) {
                    try await s.append(task, type: "output", step: "build", message: "a line of output")
                })
            }
            report.add("append 1 event \(durable ? "with fsync" : "without fsync")", Stats.median(rates), "events/s")
        }
        return report
    }

    /// Median-free helper: total time of `n` calls divided by `n`, in microseconds.
    static func timePerCall(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
        let start = now()
        for _ in 0..<n { try body() }
        return (now() - start) / Double(n) * 1e6
    }
}

enum AtomicWrite {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "atomic-write")
        let seconds = options.quick ? 0.6 : 1.2
        report.parameters = [
            "secondsPerMeasure": String(seconds), "runs": String(options.runs),
            "baseline": "open(O_EXCL) + write + fsync + close + rename + open dir + fsync dir + close",
        ]
        let folder = try TempFolder("atomic")
        defer { folder.remove() }
        for size in [4 * 1024, 256 * 1024] {
            let document = jsonDocument(bytes: size)
            let data = Data(document.prettyPrinted().utf8)
            let target = folder.url.appendingPathComponent("doc-\(size).json")
            var lib: [Double] = [], libJSON: [Double] = [], base: [Double] = [], ratios: [Double] = []
            for _ in 0..<options.runs {
                // Interleaved in one run so that the ratio compares like with like.
                let b = try throughput(seconds: seconds, minimum: 5) { try baselineWrite(data, path: target.path + ".base") }
                let a = try throughput(seconds: seconds, minimum: 5) { try AtomicFile.write(data, to: target) }
                let j = try throughput(seconds: seconds, minimum: 5) { try AtomicFile.write(document, to: target) }
                lib.append(a)
                libJSON.append(j)
                base.append(b)
                ratios.append(a / b)
            }
            let label = size == 4096 ? "4 KB" : "256 KB"
            report.add("[\(label)] AtomicFile.write(Data)", Stats.median(lib), "writes/s")
            report.add("[\(label)] AtomicFile.write(JSONValue) incl. pretty-print", Stats.median(libJSON), "writes/s")
            report.add("[\(label)] bare syscall baseline", Stats.median(base), "writes/s")
            report.add("[\(label)] AtomicFile / baseline (median of per-run ratios)", Stats.median(ratios), "ratio")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp.") }) ?? []
        report.add("temp files left behind", Double(leftovers.count), "files")
        return report
    }

    /// A JSON object whose pretty-printed form is about `bytes` long.
    static func jsonDocument(bytes: Int) -> JSONValue {
        var members: [String: JSONValue] = [:]
        var i = 0
        var size = 2
        while size < bytes {
            let value = "value number \(i) with some text to look like a context field"
            members[String(format: "key%06d", i)] = .string(value)
            size += value.count + 20
            i += 1
        }
        return .object(members)
    }

    static func baselineWrite(_ data: Data, path: String) throws {
        let temp = path + ".tmp.\(getpid()).x"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("open \(temp): errno \(errno)") }
        let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == data.count, fsync(fd) == 0 else { throw BenchError("write/fsync failed") }
        close(fd)
        guard rename(temp, path) == 0 else { throw BenchError("rename failed") }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0, fsync(dir) == 0 else { throw BenchError("dir fsync failed") }
        close(dir)
    }
}

enum Locks {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "locks")
        let processes = 8
        let perProcess = options.quick ? 250 : 1_000
        report.parameters = [
            "rmwProcesses": String(processes), "rmwPerProcess": String(perProcess), "runs": String(options.runs),
            "rmw": "ContextStore.update (exclusive lock, read, +1, AtomicFile.write)",
        ]
        let folder = try TempFolder("locks")
        defer { folder.remove() }
        let workspace = ChildModes.workspace(folder.path)
        try workspace.ensureStateFolders()
        let locks = FileLocks(timeout: .seconds(30))
        let file = folder.url.appendingPathComponent("guarded.json")
        for mode in [LockMode.shared, .exclusive] {
            var rates: [Double] = []
            for _ in 0..<options.runs {
                rates.append(try await throughputAsync(seconds: options.quick ? 0.5 : 1.5, minimum: 100) {
                    try await locks.withLock(file, mode) {}
                })
            }
            report.add("uncontended \(mode.rawValue) acquire+release", Stats.median(rates), "ops/s")
        }
        let contexts = ContextStore(workspace: workspace)
        try await contexts.create(slug: "bench-client", brief: ["name": "Bench"])
        let supervisor = ProcessSupervisor()
        let start = now()
        var children: [Child] = []
        do {
            for _ in 0..<processes {
                children.append(try await Child.start(supervisor, ["--child-rmw", folder.path, "bench-client", String(perProcess)]))
            }
            var waits: [Double] = []
            for child in children {
                let line = try await child.line(startingWith: "WAITS ", timeout: 300)
                waits += line.split(separator: ",").compactMap { Double($0) }
            }
            let wall = now() - start
            for child in children { _ = await child.process.wait() }
            await supervisor.shutdown()
            let document = try await contexts.read("bench-client")
            let counter = document[path: "results.counter"]?.intValue ?? 0
            let version = document[path: "version"]?.intValue ?? 0
            let total = processes * perProcess
            report.add("\(processes) processes x \(perProcess) RMW: wall time (incl. process start)", wall, "s")
            report.add("RMW throughput", Double(total) / wall, "updates/s")
            report.add("lost updates (expected - counter)", Double(total - Int(counter)), "updates")
            report.add("final version - 1 (must equal updates)", Double(version - 1), "updates")
            report.add("lock wait p50", Stats.quantile(waits, 0.5), "ms")
            report.add("lock wait p99", Stats.quantile(waits, 0.99), "ms")
            report.add("lock wait max", waits.max() ?? .nan, "ms")
        } catch {
            await supervisor.shutdown()
            throw error
        }
        return report
    }
}
