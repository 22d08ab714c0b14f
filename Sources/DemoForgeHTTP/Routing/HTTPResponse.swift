import Foundation

/// What a handler answers: a complete body, or a Server-Sent Events stream.
public struct HTTPResponse: Sendable {
    /// The body kind.
    public enum Body: Sendable {
        /// A complete body.
        case bytes([UInt8])
        /// An SSE stream counted under `key` (e.g. the task id) for the per-key cap. `producer` runs on the
        /// cooperative pool once the stream's headers are out; when it returns, the stream ends cleanly.
        /// It is cancelled when the stream is closed from the other side (peer left, slow reader, shutdown).
        case eventStream(key: String?, producer: @Sendable (SSEStream) async -> Void)
    }

    /// The status code.
    public var status: Int
    /// Extra response headers (`Content-Type` included for complete bodies).
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body

    /// Creates a response.
    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from already-serialized UTF-8 bytes.
    public static func json(_ bytes: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(bytes))
    }

    /// A JSON response from already-serialized text.
    public static func json(text: String, status: Int = 200) -> HTTPResponse {
        json(Array(text.utf8), status: status)
    }

    /// A JSON response encoding `value` with sorted keys.
    public static func json<T: Encodable>(encoding value: T, status: Int = 200) throws -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(Array(try encoder.encode(value)), status: status)
    }

    /// A text response.
    public static func text(
        _ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(Array(text.utf8)))
    }

    /// The JSON error response for `error`.
    public static func error(_ error: HTTPError) -> HTTPResponse {
        json(error.jsonBody, status: error.status)
    }

    /// An SSE stream; see ``Body/eventStream(key:producer:)``.
    public static func eventStream(
        key: String?, producer: @escaping @Sendable (SSEStream) async -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: 200, body: .eventStream(key: key, producer: producer))
    }
}

/// Standard reason phrases.
enum ReasonPhrase {
    static func of(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}
