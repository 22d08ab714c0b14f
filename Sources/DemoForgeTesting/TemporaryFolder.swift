import DemoForgeCore
import Foundation

/// A fresh folder under the system temp folder, removed by `remove()`.
public struct TemporaryFolder: Sendable {
    public let url: URL

    /// Creates `/tmp/demoforge-test-<label>-<random>`.
    public init(_ label: String = "t") {
        let name = "demoforge-test-\(label)-\(UInt32.random(in: 0...UInt32.max))"
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(name)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    /// Removes the folder and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A workspace in a temporary folder, created like `demoforge init` does.
public struct TemporaryWorkspace: Sendable {
    public let folder: TemporaryFolder
    public let workspace: Workspace

    /// - Parameter config: the JSON text of demoforge.json; nil writes the defaults.
    public init(_ label: String = "ws", config: String? = nil) throws {
        folder = TemporaryFolder(label)
        let root = folder.url.appendingPathComponent("ws")
        try WorkspaceScaffold.create(at: root)
        if let config {
            try Data(config.utf8).write(to: root.appendingPathComponent("demoforge.json"))
        }
        workspace = try Workspace(root: root)
    }

    public var root: URL { workspace.root }

    public func remove() { folder.remove() }
}
