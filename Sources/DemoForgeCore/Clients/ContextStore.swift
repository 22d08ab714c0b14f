import DemoForgeStore
import Foundation

/// The per-client context documents (`client-websites/<slug>/demo.context.json`).
///
/// Every update is a read-modify-write under the file's exclusive lock and bumps `version`; an update can be
/// conditional on the version it expects. A file that is not valid JSON is reported, never overwritten.
public struct ContextStore: Sendable {
    /// The newest `schemaVersion` this program understands.
    public static let schemaVersion: Int64 = 1

    public let workspace: Workspace

    public init(workspace: Workspace) {
        self.workspace = workspace
    }

    /// Validates a brief: a JSON object with a non-empty string `name`.
    public static func validateBrief(_ brief: JSONValue, source: String) throws(StoreError) {
        guard case .object(let members) = brief else {
            throw StoreError(.invalid, "\(source): a brief must be a JSON object with at least \"name\"; got \(brief.typeWithArticle)")
        }
        guard let name = members["name"] else {
            throw StoreError(.invalid, "\(source): the brief has no \"name\"; allowed: a non-empty string")
        }
        guard case .string(let text) = name, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError(.invalid, "\(source): name = \(name.compact()) is not allowed; allowed: a non-empty string")
        }
    }

    /// Creates a client's folder and context. Refuses an invalid or existing slug.
    @discardableResult
    public func create(slug: String, brief: JSONValue, source: String = "brief") async throws -> JSONValue {
        guard Identifier.isValidSlug(slug) else { throw StoreError(.invalid, Identifier.slugProblem(slug)) }
        try Self.validateBrief(brief, source: source)
        try FileManager.default.createDirectory(at: workspace.clientsFolder, withIntermediateDirectories: true)
        let folder = workspace.clientFolder(slug)
        // mkdir is the atomic "claim": two creators of one slug cannot both succeed.
        if mkdir(folder.path, 0o755) != 0 {
            if errno == EEXIST { throw StoreError(.exists, "Client \"\(slug)\" already exists at \(folder.path)") }
            throw StoreError(.io, "Cannot create \(folder.path): \(String(cString: strerror(errno)))")
        }
        let now = Timestamp.now()
        let document: JSONValue = [
            "schemaVersion": .int(Self.schemaVersion),
            "version": 1,
            "slug": .string(slug),
            "client": brief,
            "workflow": [:],
            "results": [:],
            "createdAt": .string(now),
            "updatedAt": .string(now),
        ]
        try AtomicFile.write(document, to: workspace.contextFile(slug))
        return document
    }

    /// True when the client exists.
    public func exists(_ slug: String) -> Bool {
        Identifier.isValidSlug(slug) && FileManager.default.fileExists(atPath: workspace.contextFile(slug).path)
    }

    /// The slugs of every client, sorted.
    public func list() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.clientsFolder.path)) ?? []
        return names.filter { Identifier.isValidSlug($0) && exists($0) }.sorted()
    }

    /// Reads a client's context under the shared lock.
    public func read(_ slug: String) async throws -> JSONValue {
        let file = try contextURL(slug)
        return try await workspace.locks.withLock(file, .shared) { try await Self.load(file) }
    }

    /// Updates a client's context under the exclusive lock, bumping `version`.
    ///
    /// - Parameters:
    ///   - ifVersion: when set, the update happens only if the stored version equals it (`.conflict` otherwise).
    ///   - mutate: changes the document; throwing leaves the file untouched.
    /// - Returns: the document as written.
    @discardableResult
    public func update(
        _ slug: String,
        ifVersion: Int64? = nil,
        _ mutate: @Sendable (inout JSONValue) throws -> Void
    ) async throws -> JSONValue {
        let file = try contextURL(slug)
        return try await workspace.locks.withLock(file, .exclusive) {
            var document = try await Self.load(file)
            let version = document[path: "version"]?.intValue ?? 0
            if let ifVersion, ifVersion != version {
                throw StoreError(
                    .conflict,
                    "Context of \"\(slug)\" is at version \(version), not \(ifVersion): it changed since it was read; nothing was written"
                )
            }
            try mutate(&document)
            document.set(path: "version", to: .int(version + 1))
            document.set(path: "schemaVersion", to: .int(Self.schemaVersion))
            document.set(path: "updatedAt", to: .string(Timestamp.now()))
            try AtomicFile.write(document, to: file)
            return document
        }
    }

    private func contextURL(_ slug: String) throws(StoreError) -> URL {
        guard Identifier.isValidSlug(slug) else { throw StoreError(.invalid, Identifier.slugProblem(slug)) }
        let file = workspace.contextFile(slug)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw StoreError(.notFound, "No client \"\(slug)\": \(file.path) does not exist")
        }
        return file
    }

    /// Parses the file, retrying briefly when it is not valid JSON (an editor saving it in place), then
    /// refusing a schema newer than ours.
    static func load(_ file: URL) async throws -> JSONValue {
        var attempt = 0
        while true {
            let document: JSONValue
            do {
                document = try AtomicFile.readJSON(file)
            } catch {
                guard error.code == .corrupt, attempt < 3 else { throw error }
                attempt += 1
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            try checkSchema(document, file: file)
            return document
        }
    }

    static func checkSchema(_ document: JSONValue, file: URL) throws(StoreError) {
        guard case .object = document else {
            throw StoreError(.invalid, "\(file.path): a context must be a JSON object; got \(document.typeWithArticle)")
        }
        guard let schema = document[path: "schemaVersion"]?.intValue else {
            throw StoreError(.invalid, "\(file.path): schemaVersion is missing or not an integer")
        }
        if schema > schemaVersion {
            throw StoreError(
                .schemaTooNew,
                "\(file.path) has schemaVersion \(schema), newer than this demoforge understands (\(schemaVersion)); upgrade demoforge. The file was not changed"
            )
        }
    }
}
