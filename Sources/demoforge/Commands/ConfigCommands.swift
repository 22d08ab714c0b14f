import DemoForgeCore
import Foundation

enum ConfigCommand: Command {
    static let name = "config"
    static let summary = "print the effective configuration"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge config

        Prints the effective configuration: demoforge.json with every default filled in
        (server.token shows as "(set)" when set).
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        try args.finish()
        let workspace = try await context.openWorkspace()
        Output.out(workspace.config.asJSON().prettyPrinted().trimmingCharacters(in: .newlines))
        return 0
    }
}

enum ConfigCheckCommand: Command {
    static let name = "config check"
    static let summary = "validate demoforge.json (exit 0 valid, 2 invalid)"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge config check

        Validates demoforge.json. Exit 0 when valid; 2 with the key path, the value and what is allowed.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        try args.finish()
        let workspace = try await context.openWorkspace()
        Output.out("\(workspace.configFile.path): valid")
        return 0
    }
}

enum CleanupCommand: Command {
    static let name = "cleanup"
    static let summary = "remove stale temp files (dead writers, or older than cleanup.tempMaxAgeSeconds)"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge cleanup

        Removes temp files named <file>.tmp.<pid>.<random> whose writer is gone or that are older than
        cleanup.tempMaxAgeSeconds, and prints each one removed. Never touches any other file.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        try args.finish()
        guard let root = Workspace.locate(explicit: context.workspaceOption, environment: context.environment, cwd: context.cwd)
        else { throw CLIError.input("No DemoForge workspace found (no demoforge.json here or above)") }
        let workspace: Workspace
        do {
            workspace = try Workspace(root: root)
        } catch {
            throw CLIError.input(error.message)
        }
        let removed = workspace.sweepTempFiles()
        for path in removed { Output.out("removed \(path)") }
        Output.err("cleanup: removed \(removed.count) stale temp file(s)")
        return 0
    }
}
