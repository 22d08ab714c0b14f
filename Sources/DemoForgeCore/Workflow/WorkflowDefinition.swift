import DemoForgeStore
import Foundation

/// A workflow (`workflows/<name>.json`): a name and ordered steps.
public struct WorkflowDefinition: Sendable, Equatable {
    public var name: String
    public var steps: [WorkflowStep]

    public init(name: String, steps: [WorkflowStep]) {
        self.name = name
        self.steps = steps
    }
}

/// One step of a workflow.
public struct WorkflowStep: Sendable, Equatable {
    /// What a step does.
    public enum Kind: Sendable, Equatable {
        /// Copy a template into the client's folder and fill its placeholders.
        case scaffold(template: String)
        /// Run the AI agent with a prompt template.
        case agent(prompt: String, command: [String]?, inactivityTimeoutSeconds: Double?, maxDurationSeconds: Double?)
        /// Build the site.
        case build
        /// Start the preview server.
        case preview
        /// Screenshot the preview.
        case snapshot(viewports: [Viewport]?)
        /// Any argv, run in the client's folder.
        case command(argv: [String], inactivityTimeoutSeconds: Double?, maxDurationSeconds: Double?)

        public var name: String {
            switch self {
            case .scaffold: return "scaffold"
            case .agent: return "agent"
            case .build: return "build"
            case .preview: return "preview"
            case .snapshot: return "snapshot"
            case .command: return "command"
            }
        }
    }

    public var id: String
    public var kind: Kind

    public init(id: String, kind: Kind) {
        self.id = id
        self.kind = kind
    }
}

extension WorkflowDefinition {
    static let kinds = ["agent", "build", "command", "preview", "scaffold", "snapshot"]

    /// Loads and validates `workflows/<name>.json` of a workspace.
    ///
    /// Errors name the step: an unknown kind, a duplicate id, a missing prompt file or template.
    public static func load(name: String, workspace: Workspace) throws(ConfigError) -> WorkflowDefinition {
        guard Identifier.isValidFileName(name) else {
            throw ConfigError(.invalidValue, keyPath: "", "Invalid workflow name \"\(name)\": allowed: letters, digits, '-', '_'")
        }
        let file = workspace.workflowsFolder.appendingPathComponent("\(name).json")
        let display = "workflows/\(name).json"
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ConfigError(.unreadable, keyPath: "", "\(display) does not exist in \(workspace.root.path)")
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ConfigError(.malformed, keyPath: "", "\(display) is not valid JSON: \(error)")
        }
        return try decode(root, file: display, workspace: workspace)
    }

    static func decode(_ root: JSONValue, file: String, workspace: Workspace) throws(ConfigError) -> WorkflowDefinition {
        var top = try ObjectReader(root, file: file)
        let name = try top.string("name", "")
        if name.isEmpty { throw ConfigError(.invalidValue, keyPath: "name", "\(file): name is missing; allowed: a non-empty string") }
        guard case .array(let items)? = top.raw("steps"), !items.isEmpty else {
            throw ConfigError(.invalidValue, keyPath: "steps", "\(file): steps is missing or empty; allowed: a non-empty array of steps")
        }
        try top.finish()
        var steps: [WorkflowStep] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            var r = try ObjectReader(item, file: file, path: "steps.\(index)")
            let id = try r.string("id", "")
            guard Identifier.isValidSlug(id) else {
                throw ConfigError(
                    .invalidValue, keyPath: "steps.\(index).id",
                    "\(file): step \(index + 1) has id \"\(id)\"; allowed: 1-63 characters of a-z, 0-9 and '-'")
            }
            guard seen.insert(id).inserted else {
                throw ConfigError(.invalidValue, keyPath: "steps.\(index).id", "\(file): step \"\(id)\": duplicate step id \"\(id)\"")
            }
            let kindName = try r.string("kind", "")
            let kind: WorkflowStep.Kind
            switch kindName {
            case "scaffold":
                let template = try r.string("template", "starter")
                let folder = workspace.templatesFolder.appendingPathComponent(template)
                guard Identifier.isValidFileName(template), FileManager.default.fileExists(atPath: folder.path) else {
                    throw ConfigError(
                        .invalidValue, keyPath: "steps.\(index).template",
                        "\(file): step \"\(id)\": template \"\(template)\" does not exist in templates/")
                }
                kind = .scaffold(template: template)
            case "agent":
                let prompt = try r.string("prompt", "")
                let promptFile = workspace.root.appendingPathComponent(prompt).standardizedFileURL
                guard !prompt.isEmpty, promptFile.path.hasPrefix(workspace.promptsFolder.path + "/") else {
                    throw ConfigError(
                        .invalidValue, keyPath: "steps.\(index).prompt",
                        "\(file): step \"\(id)\": prompt file \"\(prompt)\" is outside prompts/; allowed: a file under prompts/, e.g. prompts/content.md")
                }
                guard FileManager.default.fileExists(atPath: promptFile.path) else {
                    throw ConfigError(
                        .invalidValue, keyPath: "steps.\(index).prompt",
                        "\(file): step \"\(id)\": prompt file \"\(prompt)\" does not exist; allowed: a file under prompts/, e.g. prompts/content.md")
                }
                kind = .agent(
                    prompt: prompt, command: try r.argv("agent"),
                    inactivityTimeoutSeconds: try optionalSeconds(&r, "inactivityTimeoutSeconds"),
                    maxDurationSeconds: try optionalSeconds(&r, "maxDurationSeconds"))
            case "build":
                kind = .build
            case "preview":
                kind = .preview
            case "snapshot":
                var viewports: [Viewport]?
                if let list = r.raw("viewports") {
                    viewports = try Configuration.decodeViewports(list, file: file, path: "steps.\(index).viewports")
                }
                kind = .snapshot(viewports: viewports)
            case "command":
                guard let argv = try r.argv("argv") else {
                    throw ConfigError(
                        .invalidValue, keyPath: "steps.\(index).argv", "\(file): step \"\(id)\": a command step needs argv")
                }
                kind = .command(
                    argv: argv, inactivityTimeoutSeconds: try optionalSeconds(&r, "inactivityTimeoutSeconds"),
                    maxDurationSeconds: try optionalSeconds(&r, "maxDurationSeconds"))
            default:
                throw ConfigError(
                    .invalidValue, keyPath: "steps.\(index).kind",
                    "\(file): step \"\(id)\": unknown kind \"\(kindName)\"; allowed: \(kinds.joined(separator: ", "))")
            }
            try r.finish()
            steps.append(WorkflowStep(id: id, kind: kind))
        }
        return WorkflowDefinition(name: name, steps: steps)
    }

    private static func optionalSeconds(_ r: inout ObjectReader, _ key: String) throws(ConfigError) -> Double? {
        guard r.raw(key) != nil else { return nil }
        return try r.positiveSeconds(key, 1)
    }
}
