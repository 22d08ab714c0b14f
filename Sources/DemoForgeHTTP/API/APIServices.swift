import DemoForgeCore
import DemoForgeProcess
import DemoForgeStore
import Foundation

/// What the JSON API works on: the workspace's stores and the long-lived parts of a `serve` process.
public struct APIServices: Sendable {
    public let workspace: Workspace
    public let tasks: TaskStore
    public let contexts: ContextStore
    public let hub: TaskChangeHub
    public let supervisor: ProcessSupervisor
    public let previews: PreviewManager
    public let runs: RunService
    public let metrics: HTTPMetrics

    public init(
        workspace: Workspace, hub: TaskChangeHub, supervisor: ProcessSupervisor, previews: PreviewManager,
        runs: RunService, metrics: HTTPMetrics
    ) {
        self.workspace = workspace
        self.tasks = TaskStore(workspace: workspace, hub: hub)
        self.contexts = ContextStore(workspace: workspace)
        self.hub = hub
        self.supervisor = supervisor
        self.previews = previews
        self.runs = runs
        self.metrics = metrics
    }
}

/// JSON bodies and error mapping shared by the API handlers.
enum API {
    static func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse.json(text: value.compact(), status: status)
    }

    /// A 400 whose error names the offending field, for forms.
    static func fieldError(_ field: String, _ message: String, status: Int = 400, code: String = "invalid_field") -> HTTPResponse {
        json(["error": ["code": .string(code), "message": .string(message), "field": .string(field)]], status: status)
    }

    /// Maps library errors to HTTP errors with their status; anything else stays a 500.
    static func map(_ error: any Error) -> any Error {
        switch error {
        case let error as StoreError:
            switch error.code {
            case .invalid: return HTTPError.badRequest(error.message)
            case .notFound: return HTTPError.notFound(error.message)
            case .exists, .conflict: return HTTPError.conflict(error.message)
            case .lockTimeout: return HTTPError(status: 503, code: HTTPError.Code("lock_timeout"), message: error.message)
            case .schemaTooNew: return HTTPError(status: 409, code: HTTPError.Code("schema_too_new"), message: error.message)
            case .corrupt: return HTTPError(status: 500, code: HTTPError.Code("corrupt_state"), message: error.message)
            default: return error
            }
        case let error as PreviewError:
            switch error.code {
            case .elsewhere, .noSite: return HTTPError(status: 409, code: HTTPError.Code("preview_conflict"), message: error.description)
            case .noPorts: return HTTPError(status: 503, code: HTTPError.Code("no_free_port"), message: error.description)
            default: return HTTPError(status: 502, code: HTTPError.Code("preview_failed"), message: error.description)
            }
        case let error as RunError:
            return HTTPError(status: error.code == .alreadyRunning ? 409 : 400, code: HTTPError.Code(error.code.name), message: error.message)
        default:
            return error
        }
    }

    /// Runs a handler body, mapping library errors to HTTP ones.
    static func handle(_ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
        do {
            return try await body()
        } catch {
            throw map(error)
        }
    }

    static func taskId(_ request: HTTPRequest) throws(HTTPError) -> String {
        try request.parameter("id", matching: .taskId)
    }

    static func slug(_ request: HTTPRequest) throws(HTTPError) -> String {
        try request.parameter("slug", matching: .slug)
    }
}

extension IdentifierRule {
    /// Task ids: 26 characters of lower-case Crockford base32.
    public static let taskId = IdentifierRule(
        name: "task id", pattern: "^[0-9a-hjkmnp-tv-z]{26}$", check: { Identifier.isValidTaskId($0) })
}
