import DemoForgeStore
import Foundation

/// Copies a template into a client's folder and fills its placeholders from the client's context.
///
/// Files an agent or a person already changed are never overwritten: an existing file is skipped unless
/// `force` is set. HTML and SVG files are filled with HTML escaping; other text files as plain text; binary
/// files are copied byte for byte.
public struct Scaffolder: Sendable {
    public let workspace: Workspace

    public init(workspace: Workspace) {
        self.workspace = workspace
    }

    /// What a scaffold did.
    public struct Report: Sendable, Equatable {
        public var written: [String] = []
        public var skipped: [String] = []
    }

    /// The path inside the template, without the template's own name.
    static func strip(_ path: String) -> String { String(path.drop(while: { $0 != "/" }).dropFirst()) }

    static let htmlExtensions: Set<String> = ["html", "htm", "svg", "xml"]
    static let textExtensions: Set<String> = ["css", "js", "mjs", "json", "md", "txt"]

    /// Scaffolds `template` into the client's folder.
    public func scaffold(template: String, slug: String, context: JSONValue, force: Bool = false) throws -> Report {
        let source = workspace.templatesFolder.appendingPathComponent(template)
        let target = workspace.clientFolder(slug)
        var report = Report()
        try copy(from: source, to: target, relative: template, context: context, force: force, report: &report)
        return report
    }

    private func copy(from source: URL, to target: URL, relative: String, context: JSONValue, force: Bool, report: inout Report) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path).sorted() where name != "node_modules" {
            let from = source.appendingPathComponent(name)
            let to = target.appendingPathComponent(name)
            let path = "\(relative)/\(name)"
            let values = try from.resourceValues(forKeys: [.isDirectoryKey, .isSymbolicLinkKey])
            if values.isSymbolicLink == true { continue }
            if values.isDirectory == true {
                try copy(from: from, to: to, relative: path, context: context, force: force, report: &report)
                continue
            }
            if fm.fileExists(atPath: to.path) && !force {
                report.skipped.append(Self.strip(path))
                continue
            }
            let data = try Data(contentsOf: from)
            let ext = from.pathExtension.lowercased()
            var output = data
            if Self.htmlExtensions.contains(ext) || Self.textExtensions.contains(ext),
                let text = String(data: data, encoding: .utf8), text.contains("{{")
            {
                let mode: TemplateRenderer.Mode = Self.htmlExtensions.contains(ext) ? .html : .text
                let rendered = try TemplateRenderer(mode: mode).render(text, context: context, file: "templates/\(path)")
                output = Data(rendered.utf8)
            }
            try AtomicFile.write(output, to: to)
            report.written.append(Self.strip(path))
        }
    }
}
