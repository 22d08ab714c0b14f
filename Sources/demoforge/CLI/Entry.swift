import DemoForgeCore
import Foundation

/// The command line: global options, command lookup, help and exit codes.
enum Entry {
    /// Every subcommand, in the order `demoforge --help` lists them.
    static var commands: [any Command.Type] {
        [
            InitCommand.self,
            ClientAddCommand.self,
            ClientListCommand.self,
            ContextGetCommand.self,
            ContextSetCommand.self,
            ConfigCommand.self,
            ConfigCheckCommand.self,
            RunCommand.self,
            BuildCommand.self,
            PreviewCommand.self,
            PreviewsCommand.self,
            SnapshotCommand.self,
            TasksCommand.self,
            TaskShowCommand.self,
            LogsCommand.self,
            CancelCommand.self,
            ServeCommand.self,
            CleanupCommand.self,
            DoctorCommand.self,
            TaskDebugCommand.self,
            StaticServeCommand.self,
        ]
    }

    static func overview() -> String {
        var text = """
            demoforge — turn a client brief into a built, previewed, screenshotted demo site

            Usage: demoforge [--workspace DIR] COMMAND [ARGS] [--help]

            Commands:

            """
        let width = commands.map { $0.name.count }.max() ?? 0
        for command in commands where !command.name.hasPrefix("__") {
            text += "  " + command.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + command.summary + "\n"
        }
        text += """

            The workspace is --workspace DIR, else $DEMOFORGE_WORKSPACE, else the nearest folder upward with demoforge.json.
            Exit status: 0 ok, 1 failure, 2 bad usage or bad input.
            """
        return text
    }

    /// Splits off global options, picks the command by its longest matching name, runs it.
    static func main() async -> Int32 {
        var words = Array(CommandLine.arguments.dropFirst())
        var workspaceOption: String?
        var index = 0
        while index < words.count {
            let word = words[index]
            if word == "--workspace" || word == "-w" {
                guard index + 1 < words.count else {
                    Output.err("demoforge: --workspace needs a folder")
                    return 2
                }
                workspaceOption = words[index + 1]
                words.removeSubrange(index...index + 1)
            } else if word.hasPrefix("--workspace=") {
                workspaceOption = String(word.dropFirst("--workspace=".count))
                words.remove(at: index)
            } else {
                index += 1
            }
        }
        if words.isEmpty || words == ["--help"] || words == ["-h"] || words == ["help"] {
            Output.out(overview())
            return words.isEmpty ? 2 : 0
        }
        let match = commands
            .filter { command in
                let parts = command.name.split(separator: " ").map(String.init)
                return words.count >= parts.count && Array(words.prefix(parts.count)) == parts
            }
            .max { $0.name.count < $1.name.count }
        if match == nil, let first = words.first {
            let family = commands.filter { $0.name.hasPrefix(first + " ") }
            if !family.isEmpty {
                Output.err("demoforge \(first): choose one of:")
                for command in family { Output.err("  demoforge \(command.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(command.summary)") }
                return 2
            }
        }
        guard let command = match else {
            Output.err("demoforge: unknown command \"\(words.joined(separator: " "))\"\n\n" + overview())
            return 2
        }
        let rest = Array(words.dropFirst(command.name.split(separator: " ").count))
        if rest.contains("--help") || rest.contains("-h") {
            Output.out(command.help)
            return 0
        }
        let context = CommandContext(
            workspaceOption: workspaceOption,
            environment: ProcessInfo.processInfo.environment,
            cwd: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        )
        do {
            var args = try Arguments(rest, valued: command.valuedOptions)
            return try await command.run(&args, context)
        } catch let error as CLIError {
            Output.err("demoforge \(command.name): \(error.message)")
            if error.status == 2 && error.message.hasPrefix("unknown option") || error.message.hasPrefix("unexpected") {
                Output.err("Run `demoforge \(command.name) --help` for usage.")
            }
            return error.status
        } catch {
            let (status, message) = ErrorReport.describe(error)
            Output.err("demoforge \(command.name): \(message)")
            return status
        }
    }

}
