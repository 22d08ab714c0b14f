import DemoForgeSystem

/// An error from the state layer. The message names the file and, where there is one, the holder or value.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// Reading or writing the file failed at the system level.
        public static let io = Code(name: "io")
        /// The file is not valid JSON (line and column in the message).
        public static let corrupt = Code(name: "corrupt")
        /// The file does not exist.
        public static let notFound = Code(name: "notFound")
        /// The document's `schemaVersion` is newer than this program understands.
        public static let schemaTooNew = Code(name: "schemaTooNew")
        /// A compare-and-swap found another version.
        public static let conflict = Code(name: "conflict")
        /// A lock was not acquired within its timeout.
        public static let lockTimeout = Code(name: "lockTimeout")
        /// The calling task already holds this lock.
        public static let lockReentrant = Code(name: "lockReentrant")
        /// The document's shape is wrong.
        public static let invalid = Code(name: "invalid")
        /// Something with that name already exists.
        public static let exists = Code(name: "exists")
    }

    public let code: Code
    public let message: String
    public let underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
