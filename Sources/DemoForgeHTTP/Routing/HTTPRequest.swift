/// A request as handed to a route handler. All strings are decoded; handlers validate identifiers.
public struct HTTPRequest: Sendable {
    /// The method.
    public let method: HTTPMethod
    /// The raw request target's path, still percent-encoded, e.g. `/api/tasks/a%20b`.
    public let path: String
    /// The path split on `/` and percent-decoded one segment at a time (`%2F` never splits).
    public let segments: [String]
    /// The query's items in order, `+` and percent escapes decoded.
    public let query: [(name: String, value: String)]
    /// The request headers.
    public let headers: HTTPHeaders
    /// The body bytes (at most the server's body limit).
    public let body: [UInt8]
    /// Values of the route pattern's `{name}` segments, decoded (not validated).
    public internal(set) var parameters: [String: String]

    /// Creates a request (used by the server and by tests of handlers).
    public init(
        method: HTTPMethod,
        path: String,
        segments: [String],
        query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        parameters: [String: String] = [:]
    ) {
        self.method = method
        self.path = path
        self.segments = segments
        self.query = query
        self.headers = headers
        self.body = body
        self.parameters = parameters
    }

    /// The first value of query item `name`, or nil.
    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    /// The `Last-Event-ID` header, if present (SSE resume point).
    public var lastEventID: String? { headers["Last-Event-ID"] }

    /// The route parameter `name`, validated against `rule`.
    ///
    /// - Throws: `HTTPError` 400 `invalid_identifier` naming the parameter and the rule when it does not match,
    ///   so that a `..%2F..%2Fx` never reaches a file path.
    public func parameter(_ name: String, matching rule: IdentifierRule) throws(HTTPError) -> String {
        guard let value = parameters[name] else {
            throw HTTPError.badRequest("missing path parameter '\(name)'")
        }
        return try rule.validate(value, what: "path parameter '\(name)'")
    }

    /// The query item `name` validated against `rule`, or nil when absent.
    public func queryParameter(_ name: String, matching rule: IdentifierRule) throws(HTTPError) -> String? {
        guard let value = queryValue(name) else { return nil }
        return try rule.validate(value, what: "query parameter '\(name)'")
    }

    /// The query item `name` as a non-negative integer, or nil when absent; 400 when not a number.
    public func queryInt(_ name: String, range: ClosedRange<Int> = 0...Int.max) throws(HTTPError) -> Int? {
        guard let value = queryValue(name) else { return nil }
        guard let n = Int(value), range.contains(n) else {
            throw HTTPError.badRequest("query parameter '\(name)' must be an integer in \(range), got '\(value)'")
        }
        return n
    }
}
