/// An error from a browser snapshot. The message names the URL, the step or the browser binary involved.
public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// No browser binary was found (or the configured one does not exist).
        public static let browserNotFound = Code(name: "browserNotFound")
        /// The browser could not be started.
        public static let launchFailed = Code(name: "launchFailed")
        /// The browser exited or closed the DevTools pipe while it was still needed.
        public static let browserExited = Code(name: "browserExited")
        /// The page could not be reached (connection refused, name not resolved, ...).
        public static let unreachable = Code(name: "unreachable")
        /// The snapshot did not finish within `timeoutSeconds`.
        public static let timeout = Code(name: "timeout")
        /// The calling task was cancelled.
        public static let cancelled = Code(name: "cancelled")
        /// The browser answered a DevTools command with an error or an unexpected shape.
        public static let protocolError = Code(name: "protocolError")
        /// Writing a PNG or the report failed.
        public static let io = Code(name: "io")
        /// The options are not usable (e.g. a viewport name that is not a file-safe slug).
        public static let invalidOptions = Code(name: "invalidOptions")
    }

    /// What kind of failure this is.
    public let code: Code
    /// A sentence for a person.
    public let message: String
    /// The lower-level error, if any.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message.
    public var description: String { message }
}
