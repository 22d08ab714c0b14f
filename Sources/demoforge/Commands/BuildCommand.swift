import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import Foundation

enum BuildCommand: Command {
    static let name = "build"
    static let summary = "build a client's site (streams its output; retries; Ctrl-C stops it)"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge build SLUG [--json]

        Builds client-websites/SLUG with build.command, or `npm run build` when its package.json has a
        build script. Streams every line with a timestamp (one JSON event a line with --json), shows
        attempts and backoff waits, and stores the result under results.build in the client's context.

        Settings (demoforge.json, build.*): command, outputDir ("public"; must exist and be non-empty
        after exit 0), inactivityTimeoutSeconds (any byte of output resets it), maxDurationSeconds,
        retry {maxAttempts, initialDelaySeconds, multiplier, maxDelaySeconds} with ±20 % jitter,
        progressPattern. Exit 0 when the build succeeded, 1 when it failed or was cancelled.
        Ctrl-C, SIGTERM or `demoforge cancel TASK` tear the build's whole process group down.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let json = args.flag("json")
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let workspace = try await context.openWorkspace()
        guard ContextStore(workspace: workspace).exists(slug) else { throw CLIError.input("No client \"\(slug)\" in \(workspace.root.path)") }
        let hub = TaskChangeHub()
        let watcher = try TaskWatcher(tasksFolder: workspace.tasksFolder, hub: hub)
        defer { watcher.stop() }
        let store = TaskStore(workspace: workspace, hub: hub)
        let supervisor = ProcessSupervisor(registry: ProcessGroupRegistry(folder: workspace.procsFolder))
        let runner = BuildRunner(workspace: workspace, supervisor: supervisor)
        _ = try runner.command(for: slug)
        let task = try await store.create(client: slug, kind: "build")
        let id = task.taskId
        try await store.update(id) { status in
            status.state = .running
            status.step = "build"
        }
        let printer = EventPrinter(json: json)
        let writer = TaskEventWriter(store: store, taskId: id) { printer.print($0) }
        if !json { Output.err("task \(id): building \(slug)") }
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) {
            Task { _ = try? await store.cancel(id, reason: "interrupted by signal") }
        }
        defer { signals.stop() }
        let outcome: BuildResult?
        do {
            outcome = try await TaskExecution.run(taskId: id, store: store, hub: hub) {
                try await runner.runAsStep(slug: slug, step: "build", writer: writer, store: store, taskId: id)
            }
        } catch is CancellationError {
            outcome = nil
        } catch {
            writer.write(type: "error", step: "build", message: "\(error)")
            await writer.finish()
            _ = try? await store.update(id) { status in
                status.state = .failed
                status.error = "\(error)"
            }
            throw CLIError.failure("\(error)")
        }
        let state: TaskState
        switch outcome?.state {
        case .succeeded?: state = .done
        case .failed?: state = .failed
        default: state = .cancelled
        }
        let message = outcome?.message ?? "cancelled"
        writer.write(type: "result", step: "build", message: "build \(state.rawValue): \(message)", data: outcome?.toJSON())
        await writer.finish()
        let final = try await store.update(id) { status in
            if status.state.isTerminal { return }
            status.state = state
            status.progress = state == .done ? 1 : status.progress
            if state != .done { status.error = message }
        }
        await supervisor.shutdown()
        if !json {
            Output.err("build \(final.state.rawValue) for \(slug) in \(String(format: "%.1f", outcome?.durationSeconds ?? 0)) s — \(message)")
        }
        return final.state == .done ? 0 : 1
    }
}
