import DemoForgeProcess
import DemoForgeStore
import Foundation
import Synchronization

/// Builds a client's site: the configured command (or `npm run build`) under the process supervisor, with the
/// inactivity and total timeouts and the retry policy of `build.*`, then checks the output folder.
public struct BuildRunner: Sendable {
    public let workspace: Workspace
    public let supervisor: ProcessSupervisor

    public init(workspace: Workspace, supervisor: ProcessSupervisor) {
        self.workspace = workspace
        self.supervisor = supervisor
    }

    /// Something to show while the build runs.
    public enum Event: Sendable {
        case attemptStarted(attempt: Int, argv: [String])
        case output(OutputLine)
        case progress(line: String, count: Int)
        case attemptFailed(attempt: Int, reason: String)
        case retrying(afterAttempt: Int, delaySeconds: Double, reason: String)
    }

    /// The build's command for a client: `build.command`, else `npm run build` when package.json has
    /// `scripts.build`; otherwise an error naming both options.
    public func command(for slug: String) throws -> [String] {
        if let command = workspace.config.build.command { return command }
        let packageFile = workspace.clientFolder(slug).appendingPathComponent("package.json")
        if let data = FileManager.default.contents(atPath: packageFile.path),
            let package = try? JSONValue.parse(data), package[path: "scripts.build"]?.stringValue != nil
        {
            return ["npm", "run", "build"]
        }
        throw BuildError(
            .noCommand,
            "No build command for \(slug): \(packageFile.path) has no scripts.build and demoforge.json has no build.command")
    }

    /// Runs the build; `onEvent` sees attempts, lines, progress and backoff waits as they happen.
    /// Cancelling the calling task tears the running attempt down (or ends a backoff wait) at once.
    public func run(slug: String, onEvent: @escaping @Sendable (Event) -> Void) async throws -> BuildResult {
        let config = workspace.config.build
        let folder = workspace.clientFolder(slug)
        let argv = try command(for: slug)
        let pattern = try NSRegularExpression(pattern: config.progressPattern)
        let counter = ProgressCounter()
        let policy = RetryPolicy(
            maxAttempts: config.retry.maxAttempts, initialDelaySeconds: config.retry.initialDelaySeconds,
            multiplier: config.retry.multiplier, maxDelaySeconds: config.retry.maxDelaySeconds)
        let options = SupervisionOptions(
            inactivityTimeoutSeconds: config.inactivityTimeoutSeconds, maxDurationSeconds: config.maxDurationSeconds,
            terminationGraceSeconds: workspace.config.preview.stopGraceSeconds, retainedLines: 50)
        let spec = ProcessSpec(argv, workingDirectory: folder.path, environment: Self.environment(workspace: workspace, slug: slug))
        let started = Date()
        let report = await supervisor.run(spec, options: options, retry: policy) { event in
            switch event {
            case .attemptStarted(let attempt, _):
                counter.reset()
                onEvent(.attemptStarted(attempt: attempt, argv: argv))
            case .output(_, let line):
                let range = NSRange(line.text.startIndex..., in: line.text)
                if pattern.firstMatch(in: line.text, range: range) != nil {
                    onEvent(.progress(line: line.text, count: counter.increment()))
                } else {
                    onEvent(.output(line))
                }
                if line.text.range(of: "warn", options: .caseInsensitive) != nil { counter.warning() }
            case .attemptFinished(let attempt, let outcome):
                if case .finished(let result) = outcome, result.succeeded { return }
                onEvent(.attemptFailed(attempt: attempt, reason: outcome.message))
            case .retrying(let after, let delay, let reason):
                onEvent(.retrying(afterAttempt: after, delaySeconds: delay, reason: reason))
            }
        }
        var result = BuildResult(report: report, argv: argv, outputDir: config.outputDir, started: started, warnings: counter.warnings)
        if report.outcome == .succeeded {
            let output = folder.appendingPathComponent(config.outputDir)
            if !(await Self.waitForNonEmptyFolder(output, seconds: 2)) {
                result.state = .failed
                result.message = "The build exited 0 but its output folder \(config.outputDir)/ is missing or empty (\(output.path))"
            }
        }
        return result
    }

    /// The environment of steps that run in a client's folder.
    public static func environment(workspace: Workspace, slug: String, taskId: String? = nil) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["DEMOFORGE_WORKSPACE"] = workspace.root.path
        env["DEMOFORGE_CLIENT"] = slug
        if let taskId { env["DEMOFORGE_TASK"] = taskId }
        env.removeValue(forKey: "DEMOFORGE_FAULT")
        return env
    }

    /// True once `folder` exists and holds something, checking for up to `seconds` (slow file systems).
    static func waitForNonEmptyFolder(_ folder: URL, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path), !names.isEmpty { return true }
            if Date() >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// A build failure that is not a process outcome: no command, bad configuration.
public struct BuildError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let noCommand = Code(name: "noCommand")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Counts progress lines and warnings of the current attempt.
final class ProgressCounter: Sendable {
    private let counts = Mutex<(progress: Int, warnings: Int)>((0, 0))

    func reset() { counts.withLock { $0.progress = 0 } }
    func increment() -> Int { counts.withLock { $0.progress += 1; return $0.progress } }
    func warning() { counts.withLock { $0.warnings += 1 } }
    var warnings: Int { counts.withLock { $0.warnings } }
}

extension BuildRunner {
    /// Runs the build as a step of a task: every line, progress line, attempt and backoff becomes an event,
    /// and the result is stored under `results.<step>` in the client's context.
    public func runAsStep(slug: String, step: String, writer: TaskEventWriter, store: TaskStore, taskId: String) async throws -> BuildResult {
        let result = try await run(slug: slug) { event in
            switch event {
            case .attemptStarted(let attempt, let argv):
                writer.write(type: "attempt", step: step, message: "attempt \(attempt): \(argv.joined(separator: " "))", data: ["attempt": .int(Int64(attempt))])
            case .output(let line):
                writer.write(type: "output", step: step, message: line.text, data: ["stream": .string(line.stream.rawValue)])
            case .progress(let line, let count):
                writer.write(type: "progress", step: step, message: line, data: ["count": .int(Int64(count))])
            case .attemptFailed(let attempt, let reason):
                writer.write(type: "attempt-failed", step: step, message: "attempt \(attempt) failed: \(reason)", data: ["attempt": .int(Int64(attempt))])
            case .retrying(let after, let delay, let reason):
                let shown = String(format: "%.1f", delay)
                writer.write(
                    type: "retry", step: step, message: "retrying in \(shown) s after attempt \(after) (\(reason))",
                    data: ["afterAttempt": .int(Int64(after)), "delaySeconds": .double(delay)])
            }
        }
        let document = result.toJSON()
        try await ContextStore(workspace: workspace).update(slug) { $0.set(path: "results.\(step)", to: document) }
        return result
    }
}
