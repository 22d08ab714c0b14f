import DemoForgeStore
import DemoForgeSystem
import DemoForgeTesting
import Foundation
import Testing

/// A workspace for `demoforge run` tests: ports 18400–18499, a 20 s snapshot timeout, an optional trimmed
/// workflow, and a marker in the environment of every `demoforge` it starts, so that a test can find (and
/// prove the absence of) every process that the run started, however deep.
struct RunFixture {
    let folder: TemporaryFolder
    let ws: URL
    let slug = "acme"
    let mark = UUID().uuidString

    static let fakeAgent = CommandRunner.packageRoot.appendingPathComponent("Tests/Fixtures/fake-agent.sh").path
    static let example = CommandRunner.packageRoot.appendingPathComponent("examples/briefs/acme-plumbing.json").path
    /// The argv of the fake agent, as JSON.
    static let fakeAgentCommand = #"["sh", "\#(fakeAgent)", "\#(CommandRunner.demoforgeBinary)", "{{promptFile}}"]"#

    static let stepJSON: [String: String] = [
        "scaffold": #"{"id": "scaffold", "kind": "scaffold", "template": "starter"}"#,
        "content": #"{"id": "content", "kind": "agent", "prompt": "prompts/content.md"}"#,
        "polish": #"{"id": "polish", "kind": "agent", "prompt": "prompts/polish.md"}"#,
        "build": #"{"id": "build", "kind": "build"}"#,
        "preview": #"{"id": "preview", "kind": "preview"}"#,
        "snapshot": #"{"id": "snapshot", "kind": "snapshot"}"#,
    ]

    /// - Parameters:
    ///   - config: more members of demoforge.json (after `ports` and `snapshot`), e.g. `"agent": {...}`.
    ///   - steps: the ids of the default steps to keep, in order; nil keeps the default workflow.
    init(_ label: String, config: String = "", steps: [String]? = nil) throws {
        folder = TemporaryFolder(label)
        ws = folder.url.appendingPathComponent("shop")
        let initResult = try CommandRunner.demoforge(["init", ws.path])
        try #require(initResult.status == 0, "init: \(initResult.stderr)")
        let members = [#""ports": {"from": 18400, "to": 18499}"#, #""snapshot": {"timeoutSeconds": 20}"#] + (config.isEmpty ? [] : [config])
        try Data("{\(members.joined(separator: ", "))}".utf8).write(to: ws.appendingPathComponent("demoforge.json"))
        if let steps {
            let list = steps.map { Self.stepJSON[$0]! }.joined(separator: ", ")
            try Data(#"{"name": "demo", "steps": [\#(list)]}"#.utf8).write(to: ws.appendingPathComponent("workflows/demo.json"))
        }
        let add = try CommandRunner.demoforge(["client", "add", slug, "--brief", Self.example], workspace: ws)
        try #require(add.status == 0, "client add: \(add.stderr)")
    }

    var clientFolder: URL { ws.appendingPathComponent("client-websites/\(slug)") }
    var procsFolder: URL { ws.appendingPathComponent(".demoforge/run/procs") }

    /// The environment of every `demoforge` this fixture starts: the workspace and the marker.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = extra
        env["DEMOFORGE_WORKSPACE"] = ws.path
        env["DEMOFORGE_TEST_MARK"] = mark
        return env
    }

    /// Starts `demoforge ARGS` with pipes.
    func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Process {
        try CommandRunner.start(CommandRunner.demoforgeBinary, arguments, environment: environment(extra))
    }

    /// Runs `demoforge ARGS` to its end (blocking: call it through offPool when it can take long).
    func demoforge(_ arguments: [String], environment extra: [String: String] = [:]) throws -> CommandResult {
        try CommandRunner.run(CommandRunner.demoforgeBinary, arguments, environment: environment(extra))
    }

    /// The client's context document.
    func context() throws -> JSONValue {
        try AtomicFile.readJSON(clientFolder.appendingPathComponent("demo.context.json"))
    }

    /// Every task id of the workspace.
    func taskIds() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ws.appendingPathComponent(".demoforge/tasks").path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.contains(".") }.sorted()
    }

    /// A task's status document.
    func status(_ taskId: String) throws -> JSONValue {
        try AtomicFile.readJSON(ws.appendingPathComponent(".demoforge/tasks/\(taskId)/status.json"))
    }

    /// A task's events, parsed from events.jsonl.
    func events(_ taskId: String) throws -> [JSONValue] {
        let text = try String(contentsOf: ws.appendingPathComponent(".demoforge/tasks/\(taskId)/events.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }

    /// How many step-started events each step has in a task's log.
    func stepStarts(_ taskId: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for event in try events(taskId) where event[path: "type"]?.stringValue == "step-started" {
            counts[event[path: "step"]?.stringValue ?? "?", default: 0] += 1
        }
        return counts
    }

    /// Lease files, process-group records and temp files (`*.tmp.*`) anywhere in the workspace.
    func leftovers() -> [String] {
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: ws.path)
        while let path = enumerator?.nextObject() as? String {
            let name = (path as NSString).lastPathComponent
            if name.contains(".tmp.") || name.hasSuffix(".lease") { found.append(path) }
        }
        let records = (try? FileManager.default.contentsOfDirectory(atPath: procsFolder.path)) ?? []
        return found + records.map { ".demoforge/run/procs/\($0)" }
    }

    /// Live (non-zombie) processes whose environment carries this fixture's marker: everything the commands it
    /// started started in turn (agents, builds, previews, the browser).
    func liveProcesses() -> [Int32] {
        let needle = Data("DEMOFORGE_TEST_MARK=\(mark)".utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap(Int32.init).filter { pid in
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"), environ.range(of: needle) != nil,
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
            else { return false }
            return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
        }
    }

    /// The pgids of the supervised groups recorded now.
    func recordedGroups() -> [Int32] {
        let records = (try? FileManager.default.contentsOfDirectory(atPath: procsFolder.path)) ?? []
        return records.compactMap { Int32($0.split(separator: ".")[0]) }
    }

    /// Kills whatever is left (after a failed expectation) and removes the folder.
    func remove() {
        for pid in liveProcesses() { kill(pid, SIGKILL) }
        folder.remove()
    }
}

/// The width in a PNG's IHDR chunk (bytes 16..19, big-endian).
func pngWidth(_ file: URL) throws -> Int {
    let data = try Data(contentsOf: file)
    guard data.count >= 24, data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return -1 }
    return data[16..<20].reduce(0) { $0 << 8 | Int($1) }
}

/// Waits for a child to exit without holding a cooperative thread; returns its status.
func exitStatus(_ process: Process) async throws -> Int32 {
    try await offPool { process.waitUntilExit() }
    return process.terminationStatus
}

/// Everything left in a pipe, read to its end (call after the writer exited, or through offPool).
func drain(_ pipe: Any?) -> String {
    guard let pipe = pipe as? Pipe else { return "" }
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
}
