import DemoForgeCore
import DemoForgeProcess
import Foundation

/// The long-lived parts a command needs to run steps, previews or a server on a workspace.
struct Services: Sendable {
    let workspace: Workspace
    let hub: TaskChangeHub
    let watcher: TaskWatcher
    let supervisor: ProcessSupervisor
    let previews: PreviewManager
    let runs: RunService
    let tasks: TaskStore

    /// - Parameter origin: `cli` or `serve` (a server resumes the interrupted runs of a server).
    init(workspace: Workspace, origin: String) throws {
        self.workspace = workspace
        hub = TaskChangeHub()
        watcher = try TaskWatcher(tasksFolder: workspace.tasksFolder, hub: hub)
        supervisor = ProcessSupervisor(registry: ProcessGroupRegistry(folder: workspace.procsFolder))
        previews = try PreviewManager(workspace: workspace, supervisor: supervisor, staticServerCommand: [Self.executablePath, "__static"])
        runs = RunService(workspace: workspace, hub: hub, supervisor: supervisor, previews: previews, origin: origin)
        tasks = TaskStore(workspace: workspace, hub: hub)
    }

    /// This program's own path, for the built-in static server.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Stops runs, previews and processes, in that order, and the watcher.
    func shutdown() async {
        await runs.shutdown()
        await previews.shutdown()
        await supervisor.shutdown()
        watcher.stop()
    }
}
