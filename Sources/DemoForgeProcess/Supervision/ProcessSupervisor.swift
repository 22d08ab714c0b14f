import DemoForgeSystem
import Synchronization

/// Starts and supervises process groups: output as lines, inactivity and total timeouts, whole-group teardown,
/// crash records in an optional ``ProcessGroupRegistry``.
///
/// - Important: the first spawn makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`) so that
///   orphaned members of supervised groups can be reaped and "group empty" confirmed (see `Subreaper`).
public actor ProcessSupervisor {
    enum State {
        case running
        case shuttingDown
        case shutDown
    }

    private var state = State.running
    /// Live groups by pgid. A Mutex, not actor state, because monitor threads remove their entry synchronously
    /// when they finish (so ``runningCount`` is exact the moment a result is returned).
    private nonisolated let live = LiveTable()
    /// Where live groups are recorded for crash reaping; nil records nothing.
    public nonisolated let registry: ProcessGroupRegistry?

    /// Creates a supervisor.
    /// - Parameter registry: where to record live groups (the lead passes `<workspace>/.demoforge/run/procs`).
    public init(registry: ProcessGroupRegistry? = nil) {
        self.registry = registry
    }

    /// How many supervised groups are currently live.
    public nonisolated var runningCount: Int { live.table.withLock { $0.count } }

    /// Spawns `spec` and returns its handle once it runs (and is recorded). Output goes to `onOutput` on the
    /// monitor thread, in order per stream; keep the callback short.
    ///
    /// - Throws: ``ProcessError`` `.execFailed` naming the program when it cannot be executed, `.invalidArgument`,
    ///   `.spawnFailed`, `.registry`, `.shutDown`.
    public func start(
        _ spec: ProcessSpec,
        options: SupervisionOptions = SupervisionOptions(),
        onOutput: @escaping @Sendable (OutputLine) -> Void = { _ in }
    ) async throws(ProcessError) -> SupervisedProcess {
        guard state == .running else {
            throw ProcessError(.shutDown, "cannot run \(spec.argv.first ?? ""): the process supervisor is shut down")
        }
        let table = live
        let process = try await ProcessMonitor.launch(
            spec: spec, options: options, registry: registry, onOutput: onOutput,
            onFinish: { result in table.table.withLock { _ = $0.removeValue(forKey: result.pid) } })
        // Re-checked after the await: a shutdown that began meanwhile must not miss this group.
        if state != .running { process.terminate() }
        live.table.withLock { table in
            // The monitor may already have finished (a very short process): only record it while it runs.
            if process.isRunning { table[process.pid] = process }
        }
        return process
    }

    /// Runs `spec` to its end and returns the result. Cancelling the awaiting task tears the group down and
    /// returns a result whose stop reason is `.cancelled`.
    ///
    /// - Throws: as ``start(_:options:onOutput:)``, and `.cancelled` when the task was cancelled before spawning.
    public func run(
        _ spec: ProcessSpec,
        options: SupervisionOptions = SupervisionOptions(),
        onOutput: @escaping @Sendable (OutputLine) -> Void = { _ in }
    ) async throws(ProcessError) -> ProcessResult {
        try await run(spec, options: options, onOutput: onOutput, onStart: { _ in })
    }

    func run(
        _ spec: ProcessSpec,
        options: SupervisionOptions,
        onOutput: @escaping @Sendable (OutputLine) -> Void,
        onStart: (SupervisedProcess) -> Void
    ) async throws(ProcessError) -> ProcessResult {
        if Task.isCancelled {
            throw ProcessError(
                .cancelled, "cancelled before \(spec.argv.first ?? "") was started", program: spec.argv.first)
        }
        let process = try await start(spec, options: options, onOutput: onOutput)
        onStart(process)
        // The cleanup runs on the monitor thread; cancellation only asks for it, and we still wait for it.
        return await withTaskCancellationHandler {
            await process.wait()
        } onCancel: {
            process.cancel()
        }
    }

    /// Stops every live group (SIGTERM, grace, SIGKILL) and waits until they are gone; later starts fail.
    public func shutdown() async {
        guard state == .running else { return }
        state = .shuttingDown
        let processes = live.table.withLock { Array($0.values) }
        for process in processes { process.terminate() }
        for process in processes { _ = await process.wait() }
        state = .shutDown
    }
}

/// The live groups of a supervisor (a class so that monitor threads can hold it).
final class LiveTable: Sendable {
    let table = Mutex<[Int32: SupervisedProcess]>([:])
}
