import DemoForgeProcess
import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization

/// Starts, resumes and tracks workflow runs (tasks of kind `run`) for one process.
///
/// Claiming a run happens under the client's context lock: a client whose workflow is `running` under a live
/// owner cannot get a second run; one whose owner died (a crash) is resumed from the step that had not
/// finished, unless a restart is asked for.
public final class RunService: Sendable {
    public let workspace: Workspace
    public let hub: TaskChangeHub
    public let supervisor: ProcessSupervisor
    public let previews: PreviewManager
    let tasks: TaskStore
    let contexts: ContextStore
    /// `serve` or `cli`: a server resumes at start the interrupted runs that a server owned.
    let origin: String
    private let active = Mutex<[String: Task<TaskStatus, Never>]>([:])

    public init(workspace: Workspace, hub: TaskChangeHub, supervisor: ProcessSupervisor, previews: PreviewManager, origin: String) {
        self.workspace = workspace
        self.hub = hub
        self.supervisor = supervisor
        self.previews = previews
        self.tasks = TaskStore(workspace: workspace, hub: hub)
        self.contexts = ContextStore(workspace: workspace)
        self.origin = origin
    }

    /// A claimed run: which task, from which step.
    public struct Claim: Sendable {
        public let taskId: String
        public let startIndex: Int
        public let token: String
        public let resumed: Bool
        public let workflow: WorkflowDefinition
    }

    /// Claims the client's workflow for this process: a new run, or the resumption of a crashed one.
    public func claim(slug: String, restart: Bool) async throws -> Claim {
        guard contexts.exists(slug) else { throw RunError(.noClient, "No client \"\(slug)\" in \(workspace.root.path)") }
        let workflow: WorkflowDefinition
        do {
            workflow = try WorkflowDefinition.load(name: "demo", workspace: workspace)
        } catch {
            throw RunError(.badWorkflow, error.message)
        }
        let me = ProcessIdentity.current
        let origin = self.origin
        let store = tasks
        // The decision and the write happen under one exclusive lock: two claimers cannot both win.
        let created = ClaimBox()
        let document = try await contexts.update(slug) { document in
            let state = document[path: "workflow.state"]?.stringValue
            let taskId = document[path: "workflow.taskId"]?.stringValue
            let owner = ProcessIdentity(
                pid: Int32(document[path: "workflow.owner.pid"]?.intValue ?? 0),
                startTime: UInt64(document[path: "workflow.owner.startTime"]?.intValue ?? 0))
            if state == "running", let taskId {
                if owner.isAlive {
                    throw RunError(
                        .alreadyRunning,
                        "Client \(slug) already has a running task \(taskId) (pid \(owner.pid)); follow it with `demoforge logs \(taskId) --follow`",
                        taskId: taskId)
                }
                let taskState = try? store.status(taskId).state
                let index = Int(document[path: "workflow.stepIndex"]?.intValue ?? 0)
                if !restart, let taskState, !taskState.isTerminal,
                    Self.canResume(at: index, stepId: document[path: "workflow.stepId"]?.stringValue, in: workflow)
                {
                    // Resume the crashed run where it stopped.
                    document.set(path: "workflow.owner", to: ["pid": .int(Int64(me.pid)), "startTime": .int(Int64(me.startTime))])
                    document.set(path: "workflow.origin", to: .string(origin))
                    created.resumed = true
                    return
                }
            }
            if state == "running", let taskId { created.superseded = taskId }
            let id = TaskId.make()
            created.taskId = id
            document.set(
                path: "workflow",
                to: [
                    "name": .string(workflow.name), "taskId": .string(id), "state": "running", "origin": .string(origin),
                    "owner": ["pid": .int(Int64(me.pid)), "startTime": .int(Int64(me.startTime))],
                    "stepIndex": 0, "stepId": .null, "attempt": 0, "token": .string(UUID().uuidString.lowercased()),
                    "steps": [:], "startedAt": .string(Timestamp.now()),
                ])
        }
        let taskId = document[path: "workflow.taskId"]?.stringValue ?? ""
        if let old = created.superseded {
            _ = try? await store.update(old) { status in
                guard !status.state.isTerminal else { return }
                status.state = .failed
                status.error = "interrupted: its process died; superseded by run \(taskId)"
            }
        }
        if created.taskId != nil {
            try await store.create(client: slug, kind: "run", id: taskId)
        }
        try await store.update(taskId) { status in
            status.state = .running
            status.owner = me
        }
        return Claim(
            taskId: taskId, startIndex: Int(document[path: "workflow.stepIndex"]?.intValue ?? 0),
            token: document[path: "workflow.token"]?.stringValue ?? "", resumed: created.resumed, workflow: workflow)
    }

    /// True when a crashed run stopped at `index` (last started step `stepId`) fits `workflow`: a workflow edited
    /// since (fewer steps, other ids at that place) is started over instead of resumed at a wrong or missing step.
    static func canResume(at index: Int, stepId: String?, in workflow: WorkflowDefinition) -> Bool {
        let steps = workflow.steps
        guard index >= 0, index <= steps.count else { return false }
        guard let stepId else { return true }
        return (index < steps.count && steps[index].id == stepId) || (index > 0 && steps[index - 1].id == stepId)
    }

    /// Runs a claimed run to its end in the calling task (CLI). Cancelled by a CANCELLED status or the caller.
    public func execute(_ claim: Claim, slug: String, keepPreview: Bool, onEvent: @escaping @Sendable (TaskEvent) -> Void = { _ in })
        async -> TaskStatus
    {
        let runner = WorkflowRunner(service: self, slug: slug, claim: claim, keepPreview: keepPreview, onEvent: onEvent)
        return await runner.run()
    }

    /// Starts a run in the background (server); returns its task id at once.
    public func start(slug: String, restart: Bool) async throws -> String {
        let claim = try await claim(slug: slug, restart: restart)
        launch(claim, slug: slug)
        return claim.taskId
    }

    private func launch(_ claim: Claim, slug: String) {
        // Stored so that shutdown() can cancel and await every run this process owns.
        let task = Task { [self] in
            let status = await execute(claim, slug: slug, keepPreview: true)
            _ = active.withLock { $0.removeValue(forKey: claim.taskId) }
            return status
        }
        active.withLock { $0[claim.taskId] = task }
    }

    /// Resumes the interrupted runs that a previous server owned (its process died mid-run).
    @discardableResult
    public func resumeInterrupted() async -> [String] {
        var resumed: [String] = []
        for slug in contexts.list() {
            guard let document = try? await contexts.read(slug),
                document[path: "workflow.state"]?.stringValue == "running",
                document[path: "workflow.origin"]?.stringValue == "serve"
            else { continue }
            if let claim = try? await claim(slug: slug, restart: false), claim.resumed {
                launch(claim, slug: slug)
                resumed.append(claim.taskId)
            }
        }
        return resumed
    }

    /// The runs executing in this process.
    public var activeCount: Int { active.withLock { $0.count } }

    /// Cancels every run of this process and waits for them to clean up.
    public func shutdown() async {
        let running = active.withLock { Array($0.values) }
        for task in running { task.cancel() }
        for task in running { _ = await task.value }
    }
}

/// What the claim closure decided (written inside the locked update, read after it).
final class ClaimBox: @unchecked Sendable {
    var taskId: String?
    var superseded: String?
    var resumed = false
}
