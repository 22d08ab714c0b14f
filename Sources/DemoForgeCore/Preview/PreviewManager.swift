import DemoForgeProcess
import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization

/// One preview server as the manager sees it.
public struct PreviewInfo: Sendable, Equatable {
    public enum State: String, Sendable {
        case starting
        case ready
        case stopping
        case stopped
        case failed
    }

    public let slug: String
    public let port: Int
    public var state: State
    public let command: [String]
    public let pid: Int32?
    public let startedAt: Date
    public var url: String { "http://127.0.0.1:\(port)/" }

    public func toJSON() -> JSONValue {
        [
            "slug": .string(slug), "port": .int(Int64(port)), "url": .string(url), "state": .string(state.rawValue),
            "command": .array(command.map { .string($0) }), "pid": pid.map { .int(Int64($0)) } ?? .null,
            "startedAt": .string(Timestamp.format(startedAt)),
        ]
    }
}

/// Why a preview did not start; carries the server's last log lines.
public struct PreviewError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let exited = Code(name: "exited")
        public static let notReady = Code(name: "notReady")
        public static let spawnFailed = Code(name: "spawnFailed")
        public static let noPorts = Code(name: "noPorts")
        public static let noSite = Code(name: "noSite")
        public static let notRunning = Code(name: "notRunning")
        /// Another DemoForge process already previews this client (at most one preview per client).
        public static let elsewhere = Code(name: "elsewhere")
    }

    public let code: Code
    public let message: String
    public let lastLines: [String]
    /// For `.elsewhere`: the URL of the preview that already runs.
    public var url: String? = nil

    public var description: String {
        lastLines.isEmpty ? message : message + "\nlast lines of its log:\n" + lastLines.map { "  " + $0 }.joined(separator: "\n")
    }
}

/// Runs preview servers: at most one per client, on ports leased from the workspace's pool, stopped as whole
/// process groups, and stopped after `preview.idleTimeoutSeconds` without a touch or an open connection.
///
/// Concurrent starts for one client share the same start. Every failure path gives its port back.
public actor PreviewManager {
    /// Where the built-in static server comes from: an argv prefix to which `--root DIR --port P` is added.
    public let staticServerCommand: [String]
    let workspace: Workspace
    let supervisor: ProcessSupervisor
    let pool: PortPool

    private enum Slot {
        case starting(Task<PreviewInfo, any Error>)
        case running(Running)
    }

    private final class Running: Sendable {
        let info: Mutex<PreviewInfo>
        let process: SupervisedProcess
        let lease: SharedPortLease
        let log: LogRing
        let lastTouch: Mutex<Double>

        init(info: PreviewInfo, process: SupervisedProcess, lease: SharedPortLease, log: LogRing) {
            self.info = Mutex(info)
            self.process = process
            self.lease = lease
            self.log = log
            self.lastTouch = Mutex(monotonicSeconds())
        }
    }

    private var slots: [String: Slot] = [:]
    private var idleTimers: [String: Task<Void, Never>] = [:]
    /// Teardowns in progress, so that a second stop (or shutdown) returns only when the port is back.
    private var stopping: [String: Task<Void, Never>] = [:]
    private var shutDown = false

    /// - Parameter staticServerCommand: e.g. `["/path/to/demoforge", "__static"]`.
    public init(workspace: Workspace, supervisor: ProcessSupervisor, staticServerCommand: [String]) throws {
        self.workspace = workspace
        self.supervisor = supervisor
        self.staticServerCommand = staticServerCommand
        do {
            self.pool = try PortPool(range: workspace.config.ports.from...workspace.config.ports.to, leaseFolder: workspace.portsFolder)
        } catch {
            throw PreviewError(code: .noPorts, message: error.message, lastLines: [])
        }
    }

    /// Starts the client's preview, or returns the one that runs or is starting.
    public func start(_ slug: String) async throws -> PreviewInfo {
        guard !shutDown else { throw PreviewError(code: .notRunning, message: "The preview manager is shut down", lastLines: []) }
        switch slots[slug] {
        case .running(let running)?:
            guard running.process.isRunning else {
                // It died after it was ready (its watcher has not run yet): forget it, then start anew.
                await serverEnded(slug, running)
                return try await start(slug)
            }
            running.lastTouch.withLock { $0 = monotonicSeconds() }
            return running.info.withLock { $0 }
        case .starting(let task)?:
            return try await task.value
        case nil:
            break
        }
        // A stored task, so that every concurrent caller awaits the same start.
        let task = Task { try await self.launch(slug) }
        slots[slug] = .starting(task)
        do {
            return try await task.value
        } catch {
            // Only this start's slot: a stop() may have cleared it and a new start taken it meanwhile.
            if case .starting(let current)? = slots[slug], current == task { slots[slug] = nil }
            throw error
        }
    }

    /// Marks the preview as used now (resets its idle timer).
    public func touch(_ slug: String) {
        if case .running(let running)? = slots[slug] { running.lastTouch.withLock { $0 = monotonicSeconds() } }
    }

    /// The previews this manager runs.
    public func list() -> [PreviewInfo] {
        slots.values.compactMap { slot in
            if case .running(let running) = slot { return running.info.withLock { $0 } }
            return nil
        }.sorted { $0.slug < $1.slug }
    }

    /// Every lease of the workspace's pool, any process's (for `demoforge previews` and health).
    public nonisolated func leases() -> [PortLeaseRecord] {
        (try? pool.leases()) ?? []
    }

    /// How many ports of the pool are leased, by any process.
    public nonisolated func leasedPorts() -> Int { leases().count }

    /// The last log lines of a client's preview.
    public func logs(_ slug: String) -> [String] {
        if case .running(let running)? = slots[slug] { return running.log.lines() }
        return []
    }

    /// The log lines of a client's preview numbered `since` and later (0 = its first line; lines the ring buffer
    /// has already dropped are skipped), and the number to pass next time. For following a log without gaps or
    /// repeats once the ring is full; `next` is `since` when no preview runs.
    public func logs(_ slug: String, since: Int) -> (lines: [String], next: Int) {
        if case .running(let running)? = slots[slug] { return running.log.lines(since: since) }
        return ([], since)
    }

    /// Stops the client's preview: group teardown, port confirmed bindable, lease released.
    public func stop(_ slug: String) async {
        if let inFlight = stopping[slug] { await inFlight.value }
        guard case .running(let running)? = slots[slug] else {
            if case .starting(let task)? = slots[slug] {
                task.cancel()
                _ = try? await task.value
                // Cleared here, not only by the starter, so that a start right after this stop starts anew.
                if case .starting(let current)? = slots[slug], current == task { slots[slug] = nil }
            }
            return
        }
        await retire(slug, running)
    }

    /// Stops every preview (and waits for stops in progress); later starts fail.
    public func shutdown() async {
        shutDown = true
        for slug in Set(slots.keys).union(stopping.keys).sorted() { await stop(slug) }
    }

    /// Takes a running preview out of the slots and tears it down. The teardown is registered in `stopping` so
    /// that concurrent stops and shutdown await the same teardown instead of returning before the lease is back.
    private func retire(_ slug: String, _ running: Running) async {
        slots[slug] = nil
        idleTimers.removeValue(forKey: slug)?.cancel()
        let teardown = Task { await Self.teardown(running) }
        stopping[slug] = teardown
        await teardown.value
        if stopping[slug] == teardown { stopping[slug] = nil }
    }

    private static func teardown(_ running: Running) async {
        running.info.withLock { $0.state = .stopping }
        running.process.terminate()
        _ = await running.process.wait()
        let port = running.info.withLock { $0.port }
        // The port must bind again before anyone else may have it (a lingering child would still hold it).
        _ = await waitUntil(seconds: 5) { PortProbe.isFree(port: port) }
        running.lease.release()
        running.info.withLock { $0.state = .stopped }
    }

    // MARK: - Starting

    private func launch(_ slug: String) async throws -> PreviewInfo {
        var excluded: Set<Int> = []
        while true {
            do {
                let running = try await launchOnce(slug, excluding: excluded)
                guard !shutDown, !Task.isCancelled else {
                    await Self.teardown(running)
                    throw CancellationError()
                }
                slots[slug] = .running(running)
                scheduleIdleStop(slug, running)
                watchExit(slug, running)
                return running.info.withLock { $0 }
            } catch let retry as AddressInUse where excluded.isEmpty {
                // One more try on another port when the server says its port was taken.
                excluded.insert(retry.port)
            } catch let retry as AddressInUse {
                throw retry.error
            }
        }
    }

    private struct AddressInUse: Error {
        let port: Int
        let error: PreviewError
    }

    private func command(for slug: String, port: Int) throws -> [String] {
        let folder = workspace.clientFolder(slug)
        if let configured = workspace.config.preview.command {
            return configured.map { $0.replacingOccurrences(of: "{{port}}", with: String(port)) }
        }
        let packageFile = folder.appendingPathComponent("package.json")
        if let data = FileManager.default.contents(atPath: packageFile.path), let package = try? JSONValue.parse(data),
            package[path: "scripts.start"]?.stringValue != nil
        {
            return ["npm", "start", "--", "--port=\(port)"]
        }
        let output = folder.appendingPathComponent(workspace.config.build.outputDir)
        guard FileManager.default.fileExists(atPath: output.path) else {
            throw PreviewError(
                code: .noSite,
                message: "Nothing to preview for \(slug): no preview.command, no scripts.start in \(packageFile.path) and no \(workspace.config.build.outputDir)/ folder (build the site first)",
                lastLines: [])
        }
        return staticServerCommand + ["--root", output.path, "--port", String(port)]
    }

    private func launchOnce(_ slug: String, excluding: Set<Int>) async throws -> Running {
        // At most one preview per client across every process of the workspace: a live lease of another
        // process for this client means its preview runs there.
        if let other = leases().first(where: { $0.slug == slug && !$0.isStale && $0.owner.pid != getpid() }) {
            var error = PreviewError(
                code: .elsewhere,
                message: "A preview of \(slug) already runs at http://127.0.0.1:\(other.port)/ (pid \(other.owner.pid)); stop it first",
                lastLines: [])
            error.url = "http://127.0.0.1:\(other.port)/"
            throw error
        }
        let lease: SharedPortLease
        do {
            lease = try await pool.lease(slug: slug, excluding: excluding).shared()
        } catch {
            throw PreviewError(code: .noPorts, message: error.message, lastLines: [])
        }
        // From here every path either hands the lease to a Running or releases it.
        let port = lease.port
        let log = LogRing(capacity: 500)
        let argv: [String]
        let process: SupervisedProcess
        do {
            argv = try command(for: slug, port: port)
            var environment = BuildRunner.environment(workspace: workspace, slug: slug)
            environment["PORT"] = String(port)
            let spec = ProcessSpec(argv, workingDirectory: workspace.clientFolder(slug).path, environment: environment)
            let options = SupervisionOptions(terminationGraceSeconds: workspace.config.preview.stopGraceSeconds, retainedLines: 20)
            process = try await supervisor.start(spec, options: options) { line in log.append(line.text) }
        } catch let error as ProcessError {
            lease.release()
            throw PreviewError(code: .spawnFailed, message: "Cannot start the preview of \(slug): \(error.message)", lastLines: [])
        } catch {
            lease.release()
            throw error
        }
        let info = PreviewInfo(slug: slug, port: port, state: .starting, command: argv, pid: process.pid, startedAt: Date())
        let running = Running(info: info, process: process, lease: lease, log: log)
        let deadline = monotonicSeconds() + workspace.config.preview.readyTimeoutSeconds
        while true {
            if Task.isCancelled {
                await Self.teardown(running)
                throw CancellationError()
            }
            if !process.isRunning {
                let result = await process.wait()
                await Self.teardown(running)
                let lines = Array(log.lines().suffix(20))
                let error = PreviewError(
                    code: .exited,
                    message: "The preview of \(slug) (\(argv.joined(separator: " "))) \(result.exitStatus) before it answered on port \(port)",
                    lastLines: lines)
                if lines.contains(where: { $0.contains("EADDRINUSE") || $0.localizedCaseInsensitiveContains("address already in use") }) {
                    throw AddressInUse(port: port, error: error)
                }
                throw error
            }
            if await HTTPProbe.answers(port: port, timeout: 0.5) {
                running.info.withLock { $0.state = .ready }
                // The idle period starts now: a slow start must not count as time without use.
                running.lastTouch.withLock { $0 = monotonicSeconds() }
                return running
            }
            if monotonicSeconds() >= deadline {
                await Self.teardown(running)
                throw PreviewError(
                    code: .notReady,
                    message: "The preview of \(slug) (\(argv.joined(separator: " "))) did not answer on http://127.0.0.1:\(port)/ within \(Self.seconds(workspace.config.preview.readyTimeoutSeconds)) s",
                    lastLines: Array(log.lines().suffix(20)))
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }

    // MARK: - Idle stop

    private func scheduleIdleStop(_ slug: String, _ running: Running) {
        let idle = workspace.config.preview.idleTimeoutSeconds
        // Stored so that stop() can cancel it; it holds no resource of its own.
        idleTimers[slug] = Task { [weak self] in
            while !Task.isCancelled {
                let last = running.lastTouch.withLock { $0 }
                let remaining = last + idle - monotonicSeconds()
                if remaining <= 0 {
                    // A client holding a connection to the server is using it: that counts like a touch.
                    if PortActivity.hasOpenConnections(port: running.lease.port) {
                        running.lastTouch.withLock { $0 = monotonicSeconds() }
                        continue
                    }
                    await self?.stopIfCurrent(slug, running)
                    return
                }
                try? await Task.sleep(for: .seconds(remaining))
            }
        }
    }

    /// Forgets a preview whose server ends on its own after it was ready, and gives its port back. The task is
    /// not stored: it ends with the server, which every stop and shutdown ends.
    private func watchExit(_ slug: String, _ running: Running) {
        let process = running.process
        Task { [weak self] in
            _ = await process.wait()
            await self?.serverEnded(slug, running)
        }
    }

    private func serverEnded(_ slug: String, _ running: Running) async {
        guard case .running(let current)? = slots[slug], current === running else { return }
        await retire(slug, running)
        running.info.withLock { $0.state = .failed }
    }

    private func stopIfCurrent(_ slug: String, _ running: Running) async {
        guard case .running(let current)? = slots[slug], current === running else { return }
        idleTimers[slug] = nil  // the calling timer itself: not cancelled
        await retire(slug, running)
    }
}

/// Waits up to `seconds` for `condition`, checking every 20 ms.
func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = monotonicSeconds() + seconds
    while monotonicSeconds() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// The last lines of a server's log.
final class LogRing: Sendable {
    /// `total` counts every line ever appended (the number of the next line).
    private let storage: Mutex<(lines: [String], next: Int, full: Bool, total: Int)>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        storage = Mutex(([], 0, false, 0))
    }

    func append(_ line: String) {
        storage.withLock { ring in
            ring.total += 1
            if ring.lines.count < capacity {
                ring.lines.append(line)
            } else {
                ring.lines[ring.next] = line
                ring.full = true
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    func lines() -> [String] {
        storage.withLock { ring in Self.ordered(ring.lines, next: ring.next, full: ring.full) }
    }

    /// The held lines numbered `since` and later, and the number of the next line to be appended.
    func lines(since: Int) -> (lines: [String], next: Int) {
        storage.withLock { ring in
            let held = Self.ordered(ring.lines, next: ring.next, full: ring.full)
            let firstHeld = ring.total - held.count
            let skip = min(max(since - firstHeld, 0), held.count)
            return (Array(held[skip...]), ring.total)
        }
    }

    private static func ordered(_ lines: [String], next: Int, full: Bool) -> [String] {
        full ? Array(lines[next...] + lines[..<next]) : lines
    }
}
