import DemoForgeStore
import Foundation

/// A DemoForge workspace folder: configuration, workflows, prompts, templates, clients and run state.
public struct Workspace: Sendable {
    /// The workspace folder (absolute, standardised).
    public let root: URL
    /// The validated configuration.
    public let config: Configuration

    /// Opens the workspace at `root` and validates its configuration.
    public init(root: URL) throws(ConfigError) {
        self.root = root.standardizedFileURL
        self.config = try Configuration.load(from: self.root.appendingPathComponent("demoforge.json"))
    }

    /// A workspace with an explicit configuration (tests, benchmarks).
    public init(root: URL, config: Configuration) {
        self.root = root.standardizedFileURL
        self.config = config
    }

    /// Finds the workspace: `--workspace`, else `DEMOFORGE_WORKSPACE`, else the nearest folder upward
    /// holding `demoforge.json`.
    public static func locate(explicit: String?, environment: [String: String], cwd: URL) -> URL? {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit, relativeTo: cwd).standardizedFileURL }
        if let fromEnv = environment["DEMOFORGE_WORKSPACE"], !fromEnv.isEmpty {
            return URL(fileURLWithPath: fromEnv, relativeTo: cwd).standardizedFileURL
        }
        var folder = cwd.standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("demoforge.json").path) {
                return folder
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return nil }
            folder = parent
        }
    }

    public var configFile: URL { root.appendingPathComponent("demoforge.json") }
    public var workflowsFolder: URL { root.appendingPathComponent("workflows") }
    public var promptsFolder: URL { root.appendingPathComponent("prompts") }
    public var templatesFolder: URL { root.appendingPathComponent("templates") }
    public var clientsFolder: URL { root.appendingPathComponent("client-websites") }
    public var stateFolder: URL { root.appendingPathComponent(".demoforge") }
    public var tasksFolder: URL { stateFolder.appendingPathComponent("tasks") }
    public var artifactsFolder: URL { stateFolder.appendingPathComponent("artifacts") }
    public var portsFolder: URL { stateFolder.appendingPathComponent("run/ports") }
    public var procsFolder: URL { stateFolder.appendingPathComponent("run/procs") }

    /// The folder of one client. The slug must be valid.
    public func clientFolder(_ slug: String) -> URL {
        precondition(Identifier.isValidSlug(slug), Identifier.slugProblem(slug))
        return clientsFolder.appendingPathComponent(slug)
    }

    /// The context document of one client.
    public func contextFile(_ slug: String) -> URL { clientFolder(slug).appendingPathComponent("demo.context.json") }

    /// The folder of one task.
    public func taskFolder(_ taskId: String) -> URL {
        precondition(Identifier.isValidTaskId(taskId), "invalid task id \(taskId)")
        return tasksFolder.appendingPathComponent(taskId)
    }

    /// The artifacts folder of one task.
    public func artifactFolder(_ taskId: String) -> URL {
        precondition(Identifier.isValidTaskId(taskId), "invalid task id \(taskId)")
        return artifactsFolder.appendingPathComponent(taskId)
    }

    /// File locks with the configured timeout.
    public var locks: FileLocks { FileLocks(timeout: .milliseconds(Int(config.locks.timeoutSeconds * 1000))) }

    /// Creates the run-state folders if missing.
    public func ensureStateFolders() throws {
        for folder in [tasksFolder, artifactsFolder, portsFolder, procsFolder, clientsFolder] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    /// The folders where atomic writes happen, for the temp sweep (cheap: known folders only).
    public func sweepFolders() -> [URL] {
        var folders = [root, workflowsFolder, promptsFolder, portsFolder, procsFolder]
        let fm = FileManager.default
        for parent in [clientsFolder, tasksFolder, artifactsFolder] {
            folders.append(parent)
            if let names = try? fm.contentsOfDirectory(atPath: parent.path) {
                folders += names.filter { !$0.hasPrefix(".") }.map { parent.appendingPathComponent($0) }
            }
        }
        return folders
    }

    /// Removes temp files of dead writers (or older than `cleanup.tempMaxAgeSeconds`); returns their paths.
    @discardableResult
    public func sweepTempFiles() -> [String] {
        TempSweeper(maxAgeSeconds: config.cleanup.tempMaxAgeSeconds).sweep(folders: sweepFolders())
    }
}
