/// An HTTP request method.
public enum HTTPMethod: String, Sendable, Hashable, CaseIterable {
    /// GET
    case get = "GET"
    /// POST
    case post = "POST"
    /// HEAD
    case head = "HEAD"
    /// PUT
    case put = "PUT"
    /// DELETE
    case delete = "DELETE"
    /// OPTIONS
    case options = "OPTIONS"
    /// PATCH
    case patch = "PATCH"
}
