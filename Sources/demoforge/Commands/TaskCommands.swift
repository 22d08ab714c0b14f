import DemoForgeCore
import DemoForgeStore
import DemoForgeSystem
import Foundation

enum TasksCommand: Command {
    static let name = "tasks"
    static let summary = "list tasks (newest first)"
    static let valuedOptions: Set<String> = ["client"]
    static let help = """
        Usage: demoforge tasks [--client SLUG] [--json]

        Lists tasks, newest first: id, client, kind, state, current step.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let client = args.option("client")
        let json = args.flag("json")
        try args.finish()
        if let client, !Identifier.isValidSlug(client) { throw CLIError.input(Identifier.slugProblem(client)) }
        let workspace = try await context.openWorkspace()
        let tasks = TaskStore(workspace: workspace).list(client: client)
        if json {
            Output.out(JSONValue.array(tasks.map { $0.toJSON() }).prettyPrinted().trimmingCharacters(in: .newlines))
            return 0
        }
        if tasks.isEmpty { Output.out("No tasks.") }
        for task in tasks {
            var state = task.state.rawValue
            if !task.state.isTerminal, let owner = task.owner, !owner.isAlive { state += " (owner pid \(owner.pid) died)" }
            let columns = [task.taskId, task.client, task.kind, state, task.step ?? "-", task.createdAt]
            Output.out(columns.joined(separator: "  "))
        }
        return 0
    }
}

enum TaskShowCommand: Command {
    static let name = "task show"
    static let summary = "print one task's status"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge task show TASK

        Prints the task's status document as JSON.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let id = args.next() else { throw CLIError.usage("missing TASK") }
        try args.finish()
        let workspace = try await context.openWorkspace()
        let status = try TaskStore(workspace: workspace).status(id)
        Output.out(status.toJSON().prettyPrinted().trimmingCharacters(in: .newlines))
        return 0
    }
}

enum LogsCommand: Command {
    static let name = "logs"
    static let summary = "print a task's events; --follow streams them until the task ends"
    static let valuedOptions: Set<String> = ["from"]
    static let help = """
        Usage: demoforge logs TASK [--follow] [--from N] [--json]

        Prints the task's events from seq N (default 1). --follow keeps printing new events as any
        process appends them (no server needed) and ends when the task is DONE, FAILED or CANCELLED.
        Exit status with --follow: 0 when the task ended DONE, 1 otherwise.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let id = args.next() else { throw CLIError.usage("missing TASK") }
        let follow = args.flag("follow")
        let json = args.flag("json")
        let from = try args.intOption("from") ?? 1
        try args.finish()
        guard from >= 1 else { throw CLIError.usage("--from must be 1 or more") }
        let workspace = try await context.openWorkspace()
        let store = TaskStore(workspace: workspace)
        _ = try store.checkedId(id)
        let printer = EventPrinter(json: json)
        if !follow {
            var next = from
            while true {
                let page = try store.events(id, from: next, limit: 1000)
                for event in page { printer.print(event) }
                guard let last = page.last else { break }
                next = last.seq + 1
            }
            return 0
        }
        let hub = TaskChangeHub()
        let watcher = try TaskWatcher(tasksFolder: workspace.tasksFolder, hub: hub)
        defer { watcher.stop() }
        let stream = TaskFollower.events(store: store, hub: hub, taskId: id, from: from, untilTerminal: true)
        let follower = Task {
            for try await event in stream { printer.print(event) }
        }
        let interrupt = SignalWaiter(signals: [SIGINT, SIGTERM]) { follower.cancel() }
        defer { interrupt.stop() }
        // A RUNNING task whose owner died (a crash) would never end: say so instead of waiting forever.
        let orphaned = Task { () -> ProcessIdentity? in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if let status = try? store.status(id), status.state == .running, let owner = status.owner, !owner.isAlive {
                    follower.cancel()
                    return owner
                }
            }
            return nil
        }
        defer { orphaned.cancel() }
        do {
            try await follower.value
        } catch is CancellationError {}
        orphaned.cancel()
        if let owner = await orphaned.value {
            let status = try store.status(id)
            Output.err("task \(id) is RUNNING but its process (pid \(owner.pid)) died; resume it with `demoforge run \(status.client)` or end it with `demoforge cancel \(id)`")
            return 1
        }
        let state = try store.status(id).state
        if !json { Output.err("task \(id) \(state.rawValue)") }
        return state == .done ? 0 : 1
    }
}

enum CancelCommand: Command {
    static let name = "cancel"
    static let summary = "cancel a running task"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge cancel TASK

        Marks the task CANCELLED. The process running it sees the change at once, stops the running
        step (its whole process group) and its preview.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let id = args.next() else { throw CLIError.usage("missing TASK") }
        try args.finish()
        let workspace = try await context.openWorkspace()
        let status = try await TaskStore(workspace: workspace).cancel(id)
        Output.out("task \(id) \(status.state.rawValue)")
        return status.state == .cancelled ? 0 : 1
    }
}
