import DemoForgeCore
import DemoForgeStore
import Foundation
import Synchronization

enum RunCommand: Command {
    static let name = "run"
    static let summary = "run the workflow for a client: scaffold → agents → build → preview → snapshot"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge run SLUG [--restart] [--keep-preview] [--follow] [--json]

        Runs workflows/demo.json for the client and prints every event as it happens (one JSON object a
        line with --json), then a summary: state, duration per step, the site's folder, screenshots and
        console errors. The preview is stopped at the end unless --keep-preview (it then stays up until
        Ctrl-C).

        A run whose process died (crash, SIGKILL) is resumed from the step that had not finished;
        --restart starts over instead. When the client already has a live run, exits 2 naming it, or
        with --follow prints that run's events until it ends. Ctrl-C cancels: the running step's process
        group is torn down and the task ends CANCELLED.
        Exit status: 0 DONE, 1 FAILED or CANCELLED, 2 bad usage or input.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let restart = args.flag("restart")
        let keepPreview = args.flag("keep-preview")
        let follow = args.flag("follow")
        let json = args.flag("json")
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let workspace = try await context.openWorkspace()
        let services = try Services(workspace: workspace, origin: "cli")
        let claim: RunService.Claim
        do {
            claim = try await services.runs.claim(slug: slug, restart: restart)
        } catch let error as RunError {
            await services.shutdown()
            if error.code == .alreadyRunning, follow, let running = error.taskId {
                Output.err("following the running task \(running)")
                var followArgs = try Arguments([running, "--follow"] + (json ? ["--json"] : []), valued: LogsCommand.valuedOptions)
                return try await LogsCommand.run(&followArgs, context)
            }
            throw CLIError.input(error.message)
        }
        let id = claim.taskId
        if !json {
            Output.err(claim.resumed ? "task \(id): resuming the interrupted run of \(slug)" : "task \(id): running \(slug)")
        }
        let printer = EventPrinter(json: json)
        let store = services.tasks
        // One signal waiter for the whole command: a second waiter for the same signals never fires on Linux
        // (libdispatch installs its handler once; the first waiter's stop() reset it to SIG_DFL and the new
        // one's SIG_IGN then swallowed every Ctrl-C, so a kept preview could not be stopped).
        let interrupt = RunInterrupt()
        let signals = SignalWaiter(signals: [SIGINT, SIGTERM]) {
            if interrupt.signal() { Task { _ = try? await store.cancel(id, reason: "interrupted by signal") } }
        }
        defer { signals.stop() }
        let final = await services.runs.execute(claim, slug: slug, keepPreview: keepPreview) { printer.print($0) }
        if !json { printSummary(final, workspace: workspace, slug: slug) }
        if keepPreview, final.state == .done, let url = final.details[path: "previewUrl"]?.stringValue {
            Output.err("preview kept at \(url) — Ctrl-C to stop it")
            await interrupt.waitForSignal()
        }
        await services.shutdown()
        return final.state == .done ? 0 : 1
    }

    static func printSummary(_ status: TaskStatus, workspace: Workspace, slug: String) {
        var lines = ["", "== \(slug): \(status.state.rawValue)" + (status.error.map { " — \($0)" } ?? "")]
        if case .object(let steps)? = status.details[path: "steps"] {
            let order = (try? WorkflowDefinition.load(name: "demo", workspace: workspace))?.steps.map(\.id) ?? []
            let rank = { (id: String) in order.firstIndex(of: id) ?? Int.max }
            for (id, step) in steps.sorted(by: { (rank($0.key), $0.key) < (rank($1.key), $1.key) }) {
                let seconds = step[path: "durationSeconds"]?.doubleValue.map { String(format: "%.2f s", $0) } ?? "-"
                lines.append("   \(id.padding(toLength: 12, withPad: " ", startingAt: 0)) \((step[path: "state"]?.stringValue ?? "?").padding(toLength: 9, withPad: " ", startingAt: 0)) \(seconds)")
            }
        }
        lines.append("   site:        \(workspace.clientFolder(slug).path)")
        if let url = status.details[path: "previewUrl"]?.stringValue { lines.append("   preview:     \(url)") }
        if case .array(let shots)? = status.details[path: "screenshots"] {
            for shot in shots {
                let file = workspace.artifactFolder(status.taskId).appendingPathComponent(shot[path: "file"]?.stringValue ?? "").path
                lines.append("   screenshot:  \(file)")
            }
        }
        if case .array(let errors)? = status.details[path: "consoleErrors"] {
            lines.append("   console errors: \(errors.count)")
            for error in errors { lines.append("     \(error.stringValue ?? "")") }
        }
        lines.append("   task:        \(status.taskId) (demoforge logs \(status.taskId))")
        Output.out(lines.joined(separator: "\n"))
    }
}

/// Where Ctrl-C goes: to the run (cancel its task) while it runs, then to the wait of a kept preview.
final class RunInterrupt: Sendable {
    private let state = Mutex<(runDone: Bool, signalled: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, false, nil))

    /// Records a signal. - Returns: true when the run is still going (the caller cancels it).
    func signal() -> Bool {
        let (cancelRun, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            state.signalled = true
            defer { state.waiter = nil }
            return (!state.runDone, state.waiter)
        }
        waiter?.resume()
        return cancelRun
    }

    /// Waits for a signal after the run ended; returns at once if one came in the meantime.
    func waitForSignal() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                state.runDone = true
                if state.signalled { return true }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}
