import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import Foundation

/// A subcommand of `demoforge`.
protocol Command {
    /// The words that select it (`client add`).
    static var name: String { get }
    /// One line for the overview.
    static var summary: String { get }
    /// The full help text.
    static var help: String { get }
    /// Options that take a value.
    static var valuedOptions: Set<String> { get }
    /// Runs it; returns the exit status.
    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32
}

/// What every command may need: the global options and a lazily opened workspace.
struct CommandContext {
    let workspaceOption: String?
    let environment: [String: String]
    let cwd: URL

    /// Finds and opens the workspace (config validated), creates its state folders and sweeps stale temp files.
    func openWorkspace() async throws -> Workspace {
        guard let root = Workspace.locate(explicit: workspaceOption, environment: environment, cwd: cwd) else {
            throw CLIError.input(
                "No DemoForge workspace here: no demoforge.json in \(cwd.path) or above. Run `demoforge init DIR`, pass --workspace DIR or set DEMOFORGE_WORKSPACE"
            )
        }
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("demoforge.json").path) else {
            throw CLIError.input("\(root.path) is not a DemoForge workspace: it has no demoforge.json (run `demoforge init \(root.path)`)")
        }
        let workspace: Workspace
        do {
            workspace = try Workspace(root: root)
        } catch {
            throw CLIError.input(error.message)
        }
        try workspace.ensureStateFolders()
        let removed = workspace.sweepTempFiles()
        if !removed.isEmpty {
            Output.err("demoforge: removed \(removed.count) stale temp file(s)")
        }
        await reapOrphans(workspace)
        return workspace
    }

    /// Tears down process groups that a crashed DemoForge process left running (its record's owner is dead).
    func reapOrphans(_ workspace: Workspace) async {
        let registry = ProcessGroupRegistry(folder: workspace.procsFolder)
        guard !registry.records().isEmpty else { return }
        let grace = workspace.config.preview.stopGraceSeconds
        for outcome in await registry.reapOrphans(graceSeconds: grace) {
            guard let record = outcome.record else { continue }
            switch outcome.action {
            case .ownerAlive, .groupGone, .unreadable: continue
            case .leaderPidReused:
                Output.err("demoforge: dropped the record of group \(record.pgid) (\(record.argv.joined(separator: " "))): its pid now belongs to another process, which was left alone")
            default:
                Output.err("demoforge: reaped orphaned process group \(record.pgid) (\(record.argv.joined(separator: " "))) left by crashed pid \(record.owner.pid)")
            }
        }
    }
}

