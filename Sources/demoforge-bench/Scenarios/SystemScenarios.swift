#if canImport(Glibc)
import Glibc
#endif
import DemoForgeCore
import DemoForgeProcess
import Foundation
import Synchronization

enum ProcessBench {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "process")
        let grace = 0.5
        let teardowns = options.quick ? 3 : 7
        report.parameters = [
            "spawn": "ProcessSupervisor.run([/bin/true])", "runs": String(options.runs),
            "tree": "sh -> sh -> sh (+ sleep), all ignoring SIGTERM", "graceSeconds": String(grace),
            "teardowns": String(teardowns),
        ]
        let supervisor = ProcessSupervisor()
        defer { Task { await supervisor.shutdown() } }
        var rates: [Double] = []
        for _ in 0..<options.runs {
            rates.append(try await throughputAsync(seconds: options.quick ? 0.7 : 2, minimum: 10) {
                let result = try await supervisor.run(ProcessSpec(["/bin/true"]))
                guard result.succeeded else { throw BenchError("/bin/true failed: \(result.message)") }
            })
        }
        report.add("spawn + wait /bin/true", Stats.median(rates), "processes/s")

        let folder = try TempFolder("tree")
        defer { folder.remove() }
        let script = folder.url.appendingPathComponent("tree.sh").path
        try """
            #!/bin/sh
            trap '' TERM
            if [ "$1" -gt 1 ]; then "$0" $(($1 - 1)) & else echo ready; fi
            while :; do sleep 1; done

            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        var overheads: [Double] = []
        var escalated = 0, confirmed = 0
        for _ in 0..<teardowns {
            let box = ReadyBox()
            let options = SupervisionOptions(terminationGraceSeconds: grace, killConfirmSeconds: 5, retainedLines: 10)
            let process = try await supervisor.start(ProcessSpec([script, "3"]), options: options) { line in
                if line.text == "ready" { box.set() }
            }
            let deadline = now() + 10
            while !box.isSet && now() < deadline { try await Task.sleep(for: .milliseconds(2)) }
            guard box.isSet else { throw BenchError("process tree did not become ready") }
            let t0 = now()
            process.terminate()
            let result = await process.wait()
            overheads.append((now() - t0 - grace) * 1000)
            if result.killEscalated { escalated += 1 }
            if result.groupEmptyConfirmed { confirmed += 1 }
        }
        report.add("teardown of 3-level TERM-ignoring tree minus grace (median)", Stats.median(overheads), "ms")
        report.add("teardown minus grace (max)", overheads.max() ?? .nan, "ms")
        report.add("teardowns escalated to SIGKILL", Double(escalated), "of \(teardowns)")
        report.add("teardowns with group confirmed empty", Double(confirmed), "of \(teardowns)")
        await supervisor.shutdown()
        return report
    }
}

/// A flag set from a supervisor's output callback.
final class ReadyBox: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

enum Ports {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "ports")
        let range = 20_100...20_299
        let leasers = 20
        let seconds = options.quick ? 0.7 : 2.0
        report.parameters = [
            "range": "\(range.lowerBound)-\(range.upperBound)", "concurrentLeasers": String(leasers),
            "runs": String(options.runs), "op": "PortPool.lease(slug:) (O_EXCL file + bind probes) + release()",
        ]
        let folder = try TempFolder("ports")
        defer { folder.remove() }
        let pool = try PortPool(range: range, leaseFolder: folder.url)
        var single: [Double] = []
        for _ in 0..<options.runs {
            single.append(try await throughputAsync(seconds: seconds, minimum: 20) {
                let lease = try await pool.lease(slug: "bench")
                lease.release()
            })
        }
        report.add("lease + release, one leaser", Stats.median(single), "ops/s")
        var concurrent: [Double] = []
        var duplicates = 0
        for _ in 0..<options.runs {
            let held = HeldPorts()
            let dup = AtomicBox(), ops = AtomicBox()
            let start = now()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<leasers {
                    group.addTask {
                        while now() - start < seconds {
                            let lease = try await pool.lease(slug: "bench")
                            let port = lease.port
                            if !held.insert(port) { _ = dup.add() }
                            held.remove(port)
                            lease.release()
                            _ = ops.add()
                        }
                    }
                }
                try await group.waitForAll()
            }
            concurrent.append(Double(ops.load()) / (now() - start))
            duplicates += dup.load()
        }
        report.add("lease + release, \(leasers) concurrent leasers (total)", Stats.median(concurrent), "ops/s")
        report.add("port handed to two holders at once", Double(duplicates), "times")
        report.add("leases left", Double(try pool.leases().count), "leases")
        return report
    }
}

enum HTTPBench {
    static func run(_ options: BenchOptions) async throws -> ScenarioReport {
        var report = ScenarioReport(name: "http")
        let wrk = FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") ? "/usr/bin/wrk" : nil
        let seconds = options.quick ? 3 : 10
        let coldStarts = options.quick ? 3 : 7
        report.parameters = [
            "client": wrk.map { "\($0) -t2 -c50 -d\(seconds)s" } ?? "built-in (50 keep-alive connections)",
            "path": "/api/health", "runs": String(options.runs), "coldStarts": String(coldStarts),
            "server": "separate process (bench server child)",
        ]
        var cold: [Double] = []
        for _ in 0..<coldStarts {
            let folder = try TempFolder("cold")
            let supervisor = ProcessSupervisor()
            let t0 = now()
            let child = try await Child.start(supervisor, ["--child-server", folder.path])
            let port = Int(try await child.line(startingWith: "PORT ")) ?? 0
            while RawSocket.get(port: port, path: "/api/health", timeout: 1)?.0 != 200 {
                try await Task.sleep(for: .milliseconds(1))
                if now() - t0 > 10 { break }
            }
            cold.append((now() - t0) * 1000)
            await child.stop()
            await supervisor.shutdown()
            folder.remove()
        }
        report.add("cold start: spawn to first 200 from /api/health (median)", Stats.median(cold), "ms")
        let fixture = try await ServerFixture.start(label: "http")
        do {
            try await Task.sleep(for: .milliseconds(300))
            report.add("server idle RSS", ProcStats.rss(pid: fixture.server.pid) / 1e6, "MB")
            var rates: [Double] = []
            var latencies: [Double] = []
            var errors = 0
            for _ in 0..<options.runs {
                if let wrk {
                    let (rps, p99, errs) = try await runWrk(wrk, port: fixture.port, seconds: seconds)
                    rates.append(rps)
                    latencies.append(p99)
                    errors += errs
                } else {
                    let port = fixture.port
                    rates.append(await offThread { builtInLoad(port: port, connections: 50, seconds: Double(seconds)) })
                }
            }
            report.add("GET /api/health, 50 connections", Stats.median(rates), "req/s")
            if !latencies.isEmpty { report.add("wrk latency p99", Stats.median(latencies), "ms") }
            report.add("wrk errors (connect/read/write/timeout/non-2xx)", Double(errors), "errors")
            report.add("server RSS after load", ProcStats.rss(pid: fixture.server.pid) / 1e6, "MB")
            report.add("server threads", Double(ProcStats.threads(pid: fixture.server.pid)), "threads")
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
        return report
    }

    /// Runs wrk and returns (requests/s, p99 ms, errors).
    static func runWrk(_ wrk: String, port: Int, seconds: Int) async throws -> (Double, Double, Int) {
        let supervisor = ProcessSupervisor()
        let result = try await supervisor.run(
            ProcessSpec([wrk, "-t2", "-c50", "-d\(seconds)s", "--latency", "http://127.0.0.1:\(port)/api/health"]),
            options: SupervisionOptions(maxDurationSeconds: Double(seconds) + 30, retainedLines: 200))
        await supervisor.shutdown()
        var rps = Double.nan, p99 = Double.nan, errors = 0
        for line in result.lines.map(\.text) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), fields.count > 1 { rps = Double(fields[1]) ?? .nan }
            if fields.first == "99%", fields.count > 1 { p99 = parseDuration(String(fields[1])) }
            if line.contains("Socket errors:") || line.contains("Non-2xx") {
                errors += line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +)
            }
        }
        return (rps, p99, errors)
    }

    /// wrk durations: `123.45us`, `1.20ms`, `2.00s` -> ms.
    static func parseDuration(_ text: String) -> Double {
        for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return (Double(text.dropLast(suffix.count)) ?? .nan) * factor
        }
        return .nan
    }

    /// A keep-alive load generator on poll(2) for machines without wrk.
    static func builtInLoad(port: Int, connections: Int, seconds: Double) -> Double {
        let request = Array("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        var fds = (0..<connections).map { _ in pollfd(fd: RawSocket.connect(port: port, nonBlocking: true), events: Int16(POLLIN), revents: 0) }
        var pending = [Int](repeating: 0, count: connections)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var done = 0
        for i in fds.indices where fds[i].fd >= 0 { _ = request.withUnsafeBytes { send(fds[i].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        let start = now()
        while now() - start < seconds {
            if poll(&fds, nfds_t(fds.count), 100) <= 0 { continue }
            for i in fds.indices where fds[i].revents != 0 {
                fds[i].revents = 0
                let n = recv(fds[i].fd, &buffer, buffer.count, 0)
                if n <= 0 { continue }
                // Count complete responses by their status lines (bodies are small, one per read in practice).
                let answered = buffer[0..<n].indices.filter { j in
                    j + 8 < n && buffer[j] == 72 && buffer[j + 1] == 84 && buffer[j + 4] == 80 && buffer[j + 5] == 47
                }.count
                pending[i] += answered
                for _ in 0..<answered {
                    done += 1
                    _ = request.withUnsafeBytes { send(fds[i].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            }
        }
        for pfd in fds where pfd.fd >= 0 { close(pfd.fd) }
        return Double(done) / (now() - start)
    }
}

/// Ports currently held by the concurrent leasers (to catch a port handed out twice).
final class HeldPorts: Sendable {
    private let ports = Mutex(Set<Int>())
    func insert(_ port: Int) -> Bool { ports.withLock { $0.insert(port).inserted } }
    func remove(_ port: Int) { _ = ports.withLock { $0.remove(port) } }
}
