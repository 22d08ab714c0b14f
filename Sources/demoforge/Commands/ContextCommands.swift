import DemoForgeCore
import DemoForgeStore
import Foundation

enum ContextGetCommand: Command {
    static let name = "context get"
    static let summary = "print a client's context, or one dotted key of it"
    static let valuedOptions: Set<String> = []
    static let help = """
        Usage: demoforge context get SLUG [DOTTED.KEY] [--json]

        Prints the client's context document, or the value at DOTTED.KEY (e.g. client.name,
        results.build.state). Strings print bare unless --json.
        """

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let key = args.next()
        let json = args.flag("json")
        try args.finish()
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let workspace = try await context.openWorkspace()
        let document = try await ContextStore(workspace: workspace).read(slug)
        guard let key else {
            Output.out(document.prettyPrinted().trimmingCharacters(in: .newlines))
            return 0
        }
        guard let value = document[path: key] else {
            throw CLIError.failure("The context of \(slug) has no key \(key)")
        }
        if !json, case .string(let text) = value {
            Output.out(text)
        } else {
            Output.out(value.prettyPrinted().trimmingCharacters(in: .newlines))
        }
        return 0
    }
}

enum ContextSetCommand: Command {
    static let name = "context set"
    static let summary = "set keys of a client's context (KEY=VALUE..., optionally --if-version N)"
    static let valuedOptions: Set<String> = ["if-version"]
    static let help = """
        Usage: demoforge context set SLUG KEY=VALUE... [--if-version N]

        Sets dotted keys in the client's context in one locked update that bumps `version`. VALUE is JSON
        when it parses as JSON (42, true, ["a"], {"x":1}, "quoted"), else a plain string. Dotted keys
        create nested objects. With --if-version N the update happens only if the context is at version N
        (exit 1 with a conflict otherwise). schemaVersion, version and slug cannot be set.
        """

    static let protectedKeys: Set<String> = ["schemaVersion", "version", "slug"]

    static func run(_ args: inout Arguments, _ context: CommandContext) async throws -> Int32 {
        guard let slug = args.next() else { throw CLIError.usage("missing SLUG") }
        let ifVersion = try args.intOption("if-version")
        var assignments: [(String, JSONValue)] = []
        while let word = args.next() {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                throw CLIError.usage("\"\(word)\" is not KEY=VALUE")
            }
            let key = String(word[..<eq])
            let text = String(word[word.index(after: eq)...])
            let segments = key.split(separator: ".", omittingEmptySubsequences: false)
            if segments.contains(where: { $0.isEmpty }) {
                throw CLIError.input("Key \"\(key)\" has an empty segment; allowed: dotted names like results.agent.notes")
            }
            if let first = segments.first, protectedKeys.contains(String(first)) {
                throw CLIError.input("Key \"\(key)\" is managed by demoforge and cannot be set")
            }
            let value = (try? JSONValue.parse(text)) ?? .string(text)
            assignments.append((key, value))
        }
        try args.finish()
        guard !assignments.isEmpty else { throw CLIError.usage("give at least one KEY=VALUE") }
        guard Identifier.isValidSlug(slug) else { throw CLIError.input(Identifier.slugProblem(slug)) }
        let workspace = try await context.openWorkspace()
        let changes = assignments
        let document = try await ContextStore(workspace: workspace).update(slug, ifVersion: ifVersion.map(Int64.init)) {
            document in
            for (key, value) in changes { document.set(path: key, to: value) }
        }
        Output.out("\(slug): version \(document[path: "version"]?.intValue ?? 0)")
        return 0
    }
}
