#if canImport(Glibc)
import Glibc
#endif
@testable import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import DemoForgeTesting
import Foundation
import Synchronization
import Testing

/// A temporary workspace with clients, one supervisor (with a registry, as the CLI has) and any number of
/// preview managers over the same root (so they share one lease folder, like several processes do).
final class PreviewBench: Sendable {
    let temp: TemporaryWorkspace
    let supervisor: ProcessSupervisor
    private let managers = Mutex<[PreviewManager]>([])

    init(config: String? = nil, clients: [String]) async throws {
        temp = try TemporaryWorkspace("preview", config: config)
        supervisor = ProcessSupervisor(registry: ProcessGroupRegistry(folder: temp.workspace.procsFolder))
        let store = ContextStore(workspace: temp.workspace)
        for slug in clients { try await store.create(slug: slug, brief: ["name": .string(slug)]) }
    }

    var workspace: Workspace { temp.workspace }

    /// A manager over the workspace, or over the same root with another configuration (JSON text).
    func manager(config: String? = nil) throws -> PreviewManager {
        let workspace = try config.map { Workspace(root: temp.root, config: try Configuration.parse(Data($0.utf8))) }
        let manager = try PreviewManager(
            workspace: workspace ?? self.workspace, supervisor: supervisor,
            staticServerCommand: [CommandRunner.demoforgeBinary, "__static"])
        managers.withLock { $0.append(manager) }
        return manager
    }

    /// Writes `public/index.html` (and more files) into a client's folder.
    func writePublic(_ slug: String, _ files: [String: String] = ["index.html": "<!doctype html><title>ok</title>ok"]) throws {
        try writeFiles(slug, files.reduce(into: [:]) { $0["public/" + $1.key] = $1.value })
    }

    /// Writes files (paths relative to the client's folder).
    func writeFiles(_ slug: String, _ files: [String: String]) throws {
        let folder = workspace.clientFolder(slug)
        for (name, text) in files {
            let url = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// The `.lease` files of the workspace's pool.
    var leaseFileNames: [String] { leaseFiles(workspace.portsFolder) }

    /// The process-group records of the workspace (one per live supervised group).
    var groupRecords: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: workspace.procsFolder.path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    /// Stops every manager and the supervisor, checks that nothing is left, removes the workspace.
    func close() async {
        for manager in managers.withLock({ $0 }) { await manager.shutdown() }
        await supervisor.shutdown()
        #expect(supervisor.runningCount == 0)
        #expect(leaseFileNames == [])
        #expect(groupRecords == [])
        temp.remove()
        #expect(!FileManager.default.fileExists(atPath: temp.folder.path))
    }

    /// Runs `body` with a bench and closes the bench however `body` ends.
    static func with(
        config: String? = nil, clients: [String], _ body: (PreviewBench) async throws -> Void
    ) async throws {
        let bench = try await PreviewBench(config: config, clients: clients)
        do {
            try await body(bench)
        } catch {
            await bench.close()
            throw error
        }
        await bench.close()
    }
}

/// True when the process `pid` is gone or a zombie (it runs no more).
func processIsGone(_ pid: Int32) -> Bool {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return true }
    return text[text.index(after: close)...].split(separator: " ").first == "Z"
}
