import DemoForgeStore
import Foundation

/// Creates a new workspace: configuration with defaults, the default workflow, prompts and the starter template.
public enum WorkspaceScaffold {
    /// The bundled workspace skeleton (workflows/, prompts/, templates/).
    public static var skeleton: URL {
        let bundle = Bundle.module.bundleURL
        let candidates = [
            bundle.appendingPathComponent("Resources/workspace"),
            bundle.appendingPathComponent("Contents/Resources/Resources/workspace"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) } ?? candidates[0]
    }

    /// Creates the workspace at `root`. Refuses a folder that already holds a `demoforge.json`.
    public static func create(at root: URL) throws {
        let fm = FileManager.default
        let configFile = root.appendingPathComponent("demoforge.json")
        if fm.fileExists(atPath: configFile.path) {
            throw StoreError(.exists, "\(root.path) is already a DemoForge workspace (it has demoforge.json); nothing was changed")
        }
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        for name in ["workflows", "prompts", "templates"] {
            let target = root.appendingPathComponent(name)
            try copyMissing(from: skeleton.appendingPathComponent(name), to: target)
        }
        let workspace = Workspace(root: root, config: Configuration())
        try workspace.ensureStateFolders()
        // The config is written last: a workspace exists only once it is complete.
        try AtomicFile.write(defaultConfigDocument(), to: configFile)
    }

    /// The configuration file `init` writes: the defaults, spelled out so they can be edited.
    public static func defaultConfigDocument() -> JSONValue {
        var document = Configuration().asJSON()
        document.set(path: "server.token", to: .null)
        return document
    }

    /// Copies a folder tree, skipping files that already exist at the target.
    public static func copyMissing(from source: URL, to target: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(name)
            let to = target.appendingPathComponent(name)
            var isFolder: ObjCBool = false
            _ = fm.fileExists(atPath: from.path, isDirectory: &isFolder)
            if isFolder.boolValue {
                try copyMissing(from: from, to: to)
            } else if !fm.fileExists(atPath: to.path) {
                try fm.copyItem(at: from, to: to)
            }
        }
    }
}
