import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A workspace made by the real `demoforge init` in a temporary folder, with config edits applied.
public struct ServeWorkspace: Sendable {
    /// The temporary folder holding the workspace (removed by ``remove()``).
    public let folder: TemporaryFolder
    /// The workspace root (`<folder>/ws`).
    public let root: URL

    /// Runs `demoforge init`, then sets each dotted config path of `settings` in `demoforge.json`. Ports are
    /// always set to 18300...18399 so that nothing of a test touches the default pool.
    public init(_ label: String, settings: [String: JSONValue] = [:]) throws {
        folder = TemporaryFolder(label)
        root = folder.url.appendingPathComponent("ws")
        let result = try CommandRunner.demoforge(["init", root.path])
        guard result.status == 0 else { throw RawHTTPError("demoforge init failed: \(result.stderr)") }
        var all = settings
        all["ports.from"] = .int(18300)
        all["ports.to"] = .int(18399)
        try setConfig(all)
    }

    /// Rewrites `demoforge.json` with `settings` (dotted paths) applied.
    public func setConfig(_ settings: [String: JSONValue]) throws {
        let file = root.appendingPathComponent("demoforge.json")
        var document = try JSONValue.parse(try Data(contentsOf: file))
        for (path, value) in settings { document.set(path: path, to: value) }
        try Data(document.prettyPrinted().utf8).write(to: file)
    }

    /// A task's folder under `.demoforge/tasks`.
    public func taskFolder(_ id: String) -> URL {
        root.appendingPathComponent(".demoforge/tasks").appendingPathComponent(id)
    }

    /// Runs `demoforge --workspace <root> ARGS` to its end (blocking; call through ``offPool(_:)``).
    public func demoforge(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.demoforge(arguments, workspace: root)
    }

    /// `demoforge __task create CLIENT KIND`: the new task's id.
    public func createTask(client: String = "acme", kind: String = "test") throws -> String {
        let result = try demoforge(["__task", "create", client, kind])
        guard result.status == 0 else { throw RawHTTPError("__task create failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `demoforge __task append`: the printed seq and wall-clock time of the (last) append.
    @discardableResult
    public func append(_ id: String, type: String = "log", message: String = "line", count: Int = 1) throws
        -> (seq: Int, epoch: Double)
    {
        let result = try demoforge(["__task", "append", id, type, message, "--count", String(count)])
        let words = result.stdout.split(separator: " ")
        guard result.status == 0, words.count == 4, words[0] == "appended", let seq = Int(words[1]),
            let epoch = Double(words[3].trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw RawHTTPError("__task append failed (\(result.status)): \(result.stdout) \(result.stderr)")
        }
        return (seq, epoch)
    }

    /// `demoforge __task state TASK STATE`.
    public func setState(_ id: String, _ state: String) throws {
        let result = try demoforge(["__task", "state", id, state])
        guard result.status == 0 else { throw RawHTTPError("__task state \(state) failed: \(result.stderr)") }
    }

    /// Removes the temporary folder.
    public func remove() { folder.remove() }
}

/// A running `demoforge serve --port 0` child: its pid, the port it printed, its standard error.
public final class ServeProcess: @unchecked Sendable {
    /// The child process.
    public let process: Process
    /// The port from the `DemoForge serving http://127.0.0.1:PORT/` line.
    public let port: Int
    /// The URL line as printed.
    public let banner: String
    private let stderrText: TextBox

    /// The server's pid.
    public var pid: Int32 { process.processIdentifier }

    /// Everything the server wrote to standard error so far.
    public var stderr: String { stderrText.text.withLock { $0 } }

    private init(process: Process, port: Int, banner: String, stderrText: TextBox) {
        self.process = process
        self.port = port
        self.banner = banner
        self.stderrText = stderrText
    }

    /// Starts `demoforge --workspace ROOT serve --port 0 ARGS` and waits (up to `timeout`) for its URL line.
    public static func start(_ workspace: ServeWorkspace, arguments: [String] = [], timeout: Double = 30) async throws
        -> ServeProcess
    {
        let process = try CommandRunner.start(
            CommandRunner.demoforgeBinary, ["--workspace", workspace.root.path, "serve", "--port", "0"] + arguments)
        let lines = LineSource(process.standardOutput as! Pipe)
        let errors = TextBox()
        let errPipe = (process.standardError as! Pipe).fileHandleForReading
        let errReader = Thread {
            while true {
                let data = errPipe.availableData
                if data.isEmpty { break }
                errors.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        errReader.start()
        // A watchdog: a server that never prints its URL is killed so that the read below ends.
        let started = Atomic<Bool>(false)
        let pid = process.processIdentifier
        let watchdog = Thread {
            let deadline = monotonicSeconds() + timeout
            while monotonicSeconds() < deadline, !started.load(ordering: .relaxed) { usleep(20_000) }
            if !started.load(ordering: .relaxed) { kill(pid, SIGKILL) }
        }
        watchdog.start()
        let line = try await offPool { lines.waitFor("DemoForge serving ") }
        started.store(true, ordering: .relaxed)
        guard let line, let port = Self.port(in: line) else {
            kill(pid, SIGKILL)
            try await offPool { process.waitUntilExit() }
            throw RawHTTPError("demoforge serve did not print its URL; stderr: \(errors.text.withLock { $0 })")
        }
        let server = ServeProcess(process: process, port: port, banner: line, stderrText: errors)
        // Keep draining standard output so that the server never blocks on a full pipe.
        let outReader = Thread { while lines.next() != nil {} }
        outReader.start()
        return server
    }

    static func port(in line: String) -> Int? {
        guard let range = line.range(of: "http://127.0.0.1:") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit: the exit status (the negated signal number when
    /// a signal killed it) and the seconds it took. A server still running after `timeout` is SIGKILLed and
    /// reported as status -999.
    public func terminate(timeout: Double = 10) async throws -> (status: Int32, seconds: Double) {
        let start = monotonicSeconds()
        kill(pid, SIGTERM)
        let exited = try await offPool { [process] () -> Bool in
            while process.isRunning, monotonicSeconds() - start < timeout { usleep(2_000) }
            return !process.isRunning
        }
        let seconds = monotonicSeconds() - start
        if !exited {
            killIfRunning()
            return (-999, seconds)
        }
        try await offPool { [process] in process.waitUntilExit() }
        let status = process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        return (status, seconds)
    }

    /// SIGKILLs the server if it still runs (cleanup after a failed test) and reaps it.
    public func killIfRunning() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The number of the server's open descriptors (`/proc/<pid>/fd`).
    public var descriptorCount: Int { ProcessInspection.descriptorCount(pid: pid) }

    /// One request on a fresh connection (blocking; call through ``offPool(_:)``).
    public func request(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: String = "", timeout: Double = 5
    ) throws -> RawHTTPResponse {
        try rawHTTPRequest(port: port, method, target, headers: headers, body: Array(body.utf8), timeout: timeout)
    }

    /// `GET /api/health` parsed (blocking).
    public func health() throws -> JSONValue {
        let response = try request("GET", "/api/health")
        guard response.status == 200 else { throw RawHTTPError("health answered \(response.status): \(response.text)") }
        return try JSONValue.parse(response.text)
    }

    /// Polls `/api/health` until `condition` holds on it; the elapsed seconds, or nil after `timeout`.
    public func waitForHealth(timeout: Double, _ condition: @escaping @Sendable (JSONValue) -> Bool) async throws
        -> Double?
    {
        try await offPool { [self] in
            let start = monotonicSeconds()
            while true {
                if condition(try health()) { return monotonicSeconds() - start }
                if monotonicSeconds() - start > timeout { return nil }
                usleep(5_000)
            }
        }
    }
}

/// Text appended by a reader thread and read by the test.
final class TextBox: Sendable {
    let text = Mutex("")
}

extension JSONValue {
    /// The integer at a dotted path, or -1 when missing (for compact expectations in tests).
    public func int(_ path: String) -> Int { self[path: path]?.intValue.map { Int($0) } ?? -1 }
}
