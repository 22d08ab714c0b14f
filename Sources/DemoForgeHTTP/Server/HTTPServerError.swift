/// Why a server could not start.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// A non-loopback host without `server.token`.
        case tokenRequired
        /// The host is not an address or resolvable name.
        case badHost
        /// A field of the configuration is out of range.
        case badConfiguration
        /// Binding or listening failed (address in use, permission).
        case bindFailed
        /// libevent could not be set up.
        case libevent
        /// `start()` on a server that is running or stopped.
        case wrongState
    }

    /// The kind of failure.
    public let code: Code
    /// A message naming the host, port or key involved.
    public let message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
