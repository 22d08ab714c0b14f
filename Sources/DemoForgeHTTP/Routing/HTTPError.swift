import DemoForgeStore
/// An error a handler throws to answer with a specific status and a JSON body
/// `{"error":{"code":"...","message":"..."}}`.
///
/// Anything else a handler throws becomes a logged 500 whose body does not leak the error's text.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A machine-readable error code, the `error.code` of the JSON body.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code as sent to the client, e.g. `not_found`.
        public let rawValue: String
        /// Creates a code; use snake_case.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Shorthand for `init(rawValue:)`.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The raw value.
        public var description: String { rawValue }

        /// 400: a malformed request (bad path, bad query, bad JSON).
        public static let badRequest = Code("bad_request")
        /// 400: an identifier in the path or query that does not match its rule.
        public static let invalidIdentifier = Code("invalid_identifier")
        /// 401: missing or wrong bearer token.
        public static let unauthorized = Code("unauthorized")
        /// 404: no such route or resource.
        public static let notFound = Code("not_found")
        /// 405: the route exists but not for this method.
        public static let methodNotAllowed = Code("method_not_allowed")
        /// 409: the request conflicts with the current state.
        public static let conflict = Code("conflict")
        /// 413: request body over the limit.
        public static let payloadTooLarge = Code("payload_too_large")
        /// 500: an unexpected failure (details only in the server log).
        public static let internalError = Code("internal_error")
        /// 503: too many open streams in total or for one key.
        public static let tooManyStreams = Code("too_many_streams")
        /// 503: the server is shutting down.
        public static let shuttingDown = Code("shutting_down")
    }

    /// The HTTP status code, e.g. 404.
    public var status: Int
    /// The machine-readable code.
    public var code: Code
    /// A human message naming the value involved.
    public var message: String

    /// Creates an HTTP error.
    public init(status: Int, code: Code, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// `"<status> <code>: <message>"`.
    public var description: String { "\(status) \(code.rawValue): \(message)" }

    /// 400 with `code` (default `bad_request`).
    public static func badRequest(_ message: String, code: Code = .badRequest) -> HTTPError {
        HTTPError(status: 400, code: code, message: message)
    }

    /// 404 with `code` (default `not_found`).
    public static func notFound(_ message: String, code: Code = .notFound) -> HTTPError {
        HTTPError(status: 404, code: code, message: message)
    }

    /// 409 with `code` (default `conflict`).
    public static func conflict(_ message: String, code: Code = .conflict) -> HTTPError {
        HTTPError(status: 409, code: code, message: message)
    }

    /// The JSON body `{"error":{"code":"...","message":"..."}}` as UTF-8 bytes.
    public var jsonBody: [UInt8] {
        let body: JSONValue = ["error": ["code": .string(code.rawValue), "message": .string(message)]]
        return Array(body.compact().utf8)
    }
}
