import DemoForgeCore
import DemoForgeStore
import Foundation

/// Hidden, for tests and benchmarks: creates tasks and appends events through the real task store.
enum TaskDebugCommand: Command {
    static let name = "__task"
    static let summary = "(internal) create a task, append events, set a state — for tests"
    static let valuedOptions: Set<String> = ["count"]
    static let help = """
        Usage: demoforge __task create CLIENT KIND
               demoforge __task append TASK TYPE MESSAGE [--count N]
               demoforge __task state TASK STATE

        For tests and benchmarks only: goes through the same task store as real runs.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let verb = args.next()
        let workspace = try await context.openWorkspace()
        let store = TaskStore(workspace: workspace)
        switch verb {
        case "create":
            guard let client = args.next(), let kind = args.next() else { throw CLIError.usage("create CLIENT KIND") }
            try args.finish()
            Output.out(try await store.create(client: client, kind: kind).taskId)
        case "append":
            guard let id = args.next(), let type = args.next(), let message = args.next() else {
                throw CLIError.usage("append TASK TYPE MESSAGE")
            }
            let count = try args.intOption("count") ?? 1
            try args.finish()
            var last = 0
            for i in 0..<count {
                last = try await store.append(id, type: type, message: count == 1 ? message : "\(message) \(i + 1)").seq
            }
            Output.out("appended \(last) at \(String(format: "%.6f", Date().timeIntervalSince1970))")
        case "state":
            guard let id = args.next(), let text = args.next(), let state = TaskState(rawValue: text) else {
                throw CLIError.usage("state TASK (QUEUED|RUNNING|DONE|FAILED|CANCELLED)")
            }
            try args.finish()
            try await store.update(id) { $0.state = state }
        default:
            throw CLIError.usage("create | append | state")
        }
        return 0
    }
}
