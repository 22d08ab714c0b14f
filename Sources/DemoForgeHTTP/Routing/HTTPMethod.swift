/// An HTTP request method.
public enum HTTPMethod: String, Sendable, Hashable, CaseIterable {
    case GET, POST, HEAD, PUT, DELETE, OPTIONS, PATCH
}
