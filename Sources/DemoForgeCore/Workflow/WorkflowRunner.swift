import DemoForgeProcess
import DemoForgeStore
import DemoForgeSystem
import Foundation

/// Runs one claimed workflow run step by step, recording every transition and event.
struct WorkflowRunner: Sendable {
    let service: RunService
    let slug: String
    let claim: RunService.Claim
    let keepPreview: Bool
    let onEvent: @Sendable (TaskEvent) -> Void

    var workspace: Workspace { service.workspace }
    var taskId: String { claim.taskId }

    /// Runs to a terminal state and returns the final status. Never throws: failures become FAILED.
    func run() async -> TaskStatus {
        let store = service.tasks
        let writer = TaskEventWriter(store: store, taskId: taskId, onWritten: onEvent)
        let ledger = WorkflowLedger(contexts: service.contexts, slug: slug)
        let steps = claim.workflow.steps
        let progress = Progress(index: claim.startIndex, token: claim.token)
        let startedPreview = StartedPreview()
        let verb = claim.resumed ? "resumed at step \(claim.startIndex + 1) of \(steps.count)" : "started"
        writer.write(
            type: "run-started", message: "run of \(slug) \(verb): \(steps.map(\.id).joined(separator: " → "))",
            data: ["resumed": .bool(claim.resumed), "startIndex": .int(Int64(claim.startIndex))])
        let outcome: Result<Void, any Error>
        do {
            try await TaskExecution.run(taskId: taskId, store: store, hub: service.hub) {
                for index in progress.index..<steps.count {
                    try Task.checkCancellation()
                    let step = steps[index]
                    let (token, attempt) = try await ledger.begin(index: index, stepId: step.id, expected: progress.token)
                    progress.set(index: index, token: token)
                    try await store.update(taskId) { status in
                        status.step = step.id
                        status.attempt = attempt
                        status.progress = Double(index) / Double(steps.count)
                        status.details.set(path: "steps.\(step.id)", to: ["state": "running", "attempts": .int(Int64(attempt))])
                    }
                    let label = attempt > 1 ? " (attempt \(attempt))" : ""
                    writer.write(type: "step-started", step: step.id, message: "\(step.id) (\(step.kind.name))\(label)", data: ["index": .int(Int64(index))])
                    let began = monotonicSeconds()
                    let executor = StepExecutor(runner: self, writer: writer, preview: startedPreview)
                    let result = try await executor.execute(step)
                    let duration = monotonicSeconds() - began
                    let next = try await ledger.complete(
                        index: index, stepId: step.id, token: token, state: result.state, durationSeconds: duration, result: result.document)
                    progress.set(index: index + 1, token: next)
                    try await store.update(taskId) { status in
                        status.progress = Double(index + 1) / Double(steps.count)
                        status.details.set(
                            path: "steps.\(step.id)",
                            to: ["state": .string(result.state), "attempts": .int(Int64(attempt)), "durationSeconds": .double((duration * 1000).rounded() / 1000)])
                        for (key, value) in result.details { status.details.set(path: key, to: value) }
                    }
                    let type = result.state == "skipped" ? "step-skipped" : "step-finished"
                    writer.write(
                        type: type, step: step.id, message: "\(step.id) \(result.state) in \(String(format: "%.2f", duration)) s\(result.summary.isEmpty ? "" : ": " + result.summary)",
                        data: ["durationSeconds": .double(duration), "state": .string(result.state)])
                }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let stoppedPreview = !keepPreview && startedPreview.slug != nil
        if stoppedPreview {
            await service.previews.stop(slug)
            writer.write(type: "output", step: nil, message: "preview stopped at the end of the run (--keep-preview keeps it)")
        }
        return await finish(outcome, ledger: ledger, progress: progress, writer: writer, stoppedPreview: stoppedPreview)
    }

    private func finish(
        _ outcome: Result<Void, any Error>, ledger: WorkflowLedger, progress: Progress, writer: TaskEventWriter, stoppedPreview: Bool
    ) async -> TaskStatus {
        let store = service.tasks
        let steps = claim.workflow.steps
        let failedStep = progress.index < steps.count ? steps[progress.index].id : nil
        var state = TaskState.done
        var message = "done"
        switch outcome {
        case .success:
            break
        case .failure(let error as WorkflowLedger.Stale):
            writer.write(type: "stale-transition", step: failedStep, message: error.message)
            state = .failed
            message = error.message
        case .failure(let error) where error is CancellationError || (try? store.status(taskId).state) == .cancelled:
            state = .cancelled
            message = "cancelled"
        case .failure(let error):
            state = .failed
            message = (error as? StepFailure)?.message ?? String(describing: error)
            writer.write(type: "step-failed", step: failedStep, message: message)
        }
        do {
            try await ledger.finish(
                state: state == .done ? "done" : state == .cancelled ? "cancelled" : "failed", index: progress.index,
                token: progress.token, failedStep: state == .done ? nil : failedStep, error: state == .done ? nil : message)
        } catch {
            writer.write(type: "stale-transition", message: "the run's end was not recorded in the context: \(error)")
        }
        writer.write(type: "run-finished", message: "run \(state.rawValue)\(state == .done ? "" : ": " + message)", data: ["state": .string(state.rawValue)])
        // Every event is stored before the terminal status: followers stop at that status and would miss the rest.
        await writer.finish()
        let finalState = state
        let finalMessage = message
        let stepState = state == .cancelled ? "cancelled" : "failed"
        let stepSeconds = (max(0, monotonicSeconds() - progress.stepStartedAt) * 1000).rounded() / 1000
        let final = try? await store.update(taskId) { status in
            // The step that was running when the run ended says how it ended (a cancel may already have made the
            // task terminal; details still change, the state does not).
            if finalState != .done, let failedStep, status.details[path: "steps.\(failedStep).state"]?.stringValue == "running" {
                status.details.set(path: "steps.\(failedStep).state", to: .string(stepState))
                status.details.set(path: "steps.\(failedStep).durationSeconds", to: .double(stepSeconds))
            }
            if stoppedPreview { status.details.set(path: "previewUrl", to: .null) }
            guard !status.state.isTerminal else { return }
            status.state = finalState
            if finalState == .done { status.progress = 1 } else { status.error = finalMessage }
        }
        return final ?? (try? store.status(taskId)) ?? TaskStatus(taskId: taskId, client: slug, kind: "run", owner: nil)
    }
}

/// Where the run is: the next step index and the token it expects (shared by the run and its cleanup).
final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var _index: Int
    private var _token: String

    init(index: Int, token: String) {
        _index = index
        _token = token
    }

    private var _stepStartedAt = monotonicSeconds()

    var index: Int { lock.withLock { _index } }
    var token: String { lock.withLock { _token } }
    /// When the current step began (monotonic seconds).
    var stepStartedAt: Double { lock.withLock { _stepStartedAt } }

    func set(index: Int, token: String) {
        lock.withLock {
            if index != _index { _stepStartedAt = monotonicSeconds() }
            _index = index
            _token = token
        }
    }
}

/// Whether this run started the client's preview (so that it stops it at the end).
final class StartedPreview: @unchecked Sendable {
    private let lock = NSLock()
    private var _slug: String?
    var slug: String? {
        get { lock.withLock { _slug } }
        set { lock.withLock { _slug = newValue } }
    }
}
