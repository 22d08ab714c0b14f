/// An error from spawning or supervising a process. The message names the program, folder or file involved.
public struct ProcessError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The short name of the code, e.g. `execFailed`.
        public var description: String { name }
        /// The program could not be executed: not found on `PATH`, not executable, bad format.
        public static let execFailed = Code(name: "execFailed")
        /// Spawning failed for a resource reason (pipes, descriptors, process limit); may be transient.
        public static let spawnFailed = Code(name: "spawnFailed")
        /// The request itself is wrong: empty argv, missing working directory, bad descriptor mapping.
        public static let invalidArgument = Code(name: "invalidArgument")
        /// The calling task was cancelled before the process was started.
        public static let cancelled = Code(name: "cancelled")
        /// The process-group registry could not be written.
        public static let registry = Code(name: "registry")
        /// The supervisor has been shut down and starts nothing new.
        public static let shutDown = Code(name: "shutDown")
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human message naming what failed, e.g. `cannot run no-such-binary-xyz: not found in PATH`.
    public let message: String
    /// The program (argv[0]) involved, if any.
    public let program: String?
    /// The error underneath, if any.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, program: String? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.program = program
        self.underlying = underlying
    }

    /// The message.
    public var description: String { message }
}
