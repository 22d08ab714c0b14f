import DemoForgeCore
import Foundation

enum InitCommand: Command {
    static let name = "init"
    static let summary = "create a workspace: config, workflow, prompts, starter template"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge init [DIR]

        Creates a DemoForge workspace in DIR (default: the current folder): demoforge.json with every
        default spelled out, workflows/demo.json, prompts/*.md and templates/starter/. Refuses a folder
        that already has a demoforge.json.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let dir = args.next() ?? "."
        try args.finish()
        let root = URL(fileURLWithPath: dir, relativeTo: context.cwd).standardizedFileURL
        try WorkspaceScaffold.create(at: root)
        Output.out("Created DemoForge workspace at \(root.path)")
        Output.out("Next: cd \(dir) && demoforge client add SLUG --brief brief.json")
        return 0
    }
}
