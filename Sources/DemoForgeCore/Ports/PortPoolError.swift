/// An error from the port pool. The message names the range, the lease file or the holders involved.
public struct PortPoolError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// Every port of the range is leased or in use by another program.
        public static let exhausted = Code(name: "exhausted")
        /// The range is empty or outside 1...65535.
        public static let invalidRange = Code(name: "invalidRange")
        /// The lease folder or a lease file could not be read or written.
        public static let io = Code(name: "io")
        /// The folder lock that guards reclaiming was not acquired in time.
        public static let lockTimeout = Code(name: "lockTimeout")
    }

    /// What kind of failure this is.
    public let code: Code
    /// A sentence for a person: what failed and on what.
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
