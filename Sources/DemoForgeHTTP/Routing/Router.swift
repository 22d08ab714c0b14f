/// A route handler: runs on the cooperative pool; its answer is handed back to the event-loop thread.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// Maps method + path pattern to handlers. Patterns are literal segments and `{name}` captures, e.g.
/// `/api/tasks/{id}/events/stream`; a capture matches exactly one decoded segment.
public struct Router: Sendable {
    struct Route: Sendable {
        enum Part: Sendable, Equatable {
            case literal(String)
            case capture(String)
        }
        let method: HTTPMethod
        let parts: [Part]
        let handler: HTTPHandler
        /// Answered without the server token (the dashboard page, which asks for the token itself).
        var isPublic = false
    }

    /// The outcome of looking a request up.
    enum Match {
        case found(HTTPHandler, [String: String])
        case notFound
        case methodNotAllowed([HTTPMethod])
    }

    private var routes: [Route] = []

    /// Answers GET and HEAD requests that match no route (the built-in static server serves files this way).
    public var fallback: HTTPHandler?

    /// Creates an empty router.
    public init() {}

    /// Registers `handler` for `method` and `pattern`.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping HTTPHandler) {
        let parts: [Route.Part] = pattern.split(separator: "/").map { segment in
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                return .capture(String(segment.dropFirst().dropLast()))
            }
            return .literal(String(segment))
        }
        routes.append(Route(method: method, parts: parts, handler: handler))
    }

    /// Registers a GET handler that needs no token: only for content that reveals nothing (the dashboard's files).
    public mutating func getPublic(_ pattern: String, _ handler: @escaping HTTPHandler) {
        add(.get, pattern, handler)
        routes[routes.count - 1].isPublic = true
    }

    /// True when `method` + `segments` match a route registered with ``getPublic(_:_:)``.
    func isPublic(_ method: HTTPMethod, _ segments: [String]) -> Bool {
        routes.contains { route in
            route.isPublic && (route.method == method || (method == .head && route.method == .get))
                && route.parts.count == segments.count
                && zip(route.parts, segments).allSatisfy { part, segment in
                    if case .literal(let text) = part { return text == segment }
                    return true
                }
        }
    }

    /// Registers a GET handler.
    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.get, pattern, handler) }
    /// Registers a POST handler.
    public mutating func post(_ pattern: String, _ handler: @escaping HTTPHandler) { add(.post, pattern, handler) }
    /// Registers a DELETE handler.
    public mutating func delete(_ pattern: String, _ handler: @escaping HTTPHandler) {
        add(.delete, pattern, handler)
    }

    func match(_ method: HTTPMethod, _ segments: [String]) -> Match {
        var allowed: [HTTPMethod] = []
        for route in routes where route.parts.count == segments.count {
            var captures: [String: String] = [:]
            var ok = true
            for (part, segment) in zip(route.parts, segments) {
                switch part {
                case .literal(let text): if text != segment { ok = false }
                case .capture(let name): captures[name] = segment
                }
                if !ok { break }
            }
            guard ok else { continue }
            if route.method == method || (method == .head && route.method == .get) {
                return .found(route.handler, captures)
            }
            allowed.append(route.method)
        }
        if allowed.isEmpty, let fallback, method == .get || method == .head { return .found(fallback, [:]) }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed)
    }
}
