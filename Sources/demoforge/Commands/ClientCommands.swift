import DemoForgeCore
import DemoForgeStore
import Foundation

enum ClientAddCommand: Command {
    static let name = "client add"
    static let summary = "add a client from a brief (--brief FILE or --name NAME)"
    static let valuedOptions: Set<String> = ["brief", "name"]
    static let help = """
        Usage: demoforge client add SLUG (--brief FILE | --name NAME)

        Creates client-websites/SLUG/demo.context.json from a brief: a JSON object with at least "name"
        (see examples/briefs/). SLUG: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit.
        Refuses an existing slug.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let briefPath = args.option("brief")
        let name = args.option("name")
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let brief: JSONValue
        let source: String
        switch (briefPath, name) {
        case (let path?, nil):
            let url = URL(fileURLWithPath: path, relativeTo: context.cwd)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw CLIError.input("Cannot read the brief \(url.path): no such file")
            }
            do {
                brief = try JSONValue.parse(data)
            } catch {
                throw CLIError.input("The brief \(path) is not valid JSON: \(error)")
            }
            source = path
        case (nil, let name?):
            brief = ["name": .string(name)]
            source = "--name"
        default:
            throw CLIError.usage("give exactly one of --brief FILE or --name NAME")
        }
        let workspace = try await context.openWorkspace()
        try await ContextStore(workspace: workspace).create(slug: slug, brief: brief, source: source)
        Output.out("Added client \(slug) at \(workspace.clientFolder(slug).path)")
        return 0
    }
}

enum ClientListCommand: Command {
    static let name = "client list"
    static let summary = "list clients"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge client list [--json]

        Lists the workspace's clients: slug, name, context version. --json prints one JSON array.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        let json = args.flag("json")
        try args.finish()
        let workspace = try await context.openWorkspace()
        let store = ContextStore(workspace: workspace)
        var rows: [JSONValue] = []
        var unreadable = 0
        for slug in store.list() {
            do {
                let document = try await store.read(slug)
                rows.append([
                    "slug": .string(slug),
                    "name": document[path: "client.name"] ?? .null,
                    "version": document[path: "version"] ?? .null,
                ])
            } catch {
                // One damaged context must not hide the other clients.
                unreadable += 1
                rows.append(["slug": .string(slug), "name": .null, "version": .null, "error": .string("\(error)")])
                Output.err("demoforge client list: \(slug): \(error)")
            }
        }
        if json {
            Output.out(JSONValue.array(rows).prettyPrinted().trimmingCharacters(in: .newlines))
        } else if rows.isEmpty {
            Output.out("No clients yet. Add one: demoforge client add SLUG --brief FILE")
        } else {
            for row in rows {
                let slug = row[path: "slug"]?.stringValue ?? ""
                let name = row[path: "name"]?.stringValue ?? ""
                Output.out("\(slug.padding(toLength: 28, withPad: " ", startingAt: 0)) \(name)  (v\(row[path: "version"]?.intValue ?? 0))")
            }
        }
        return unreadable == 0 ? 0 : 1
    }
}
