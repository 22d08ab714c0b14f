/// A configuration problem. The message names the file, the key path, the value and what is allowed.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// The kind of problem.
    public struct Code: Hashable, Sendable {
        let name: String
        public static let malformed = Code(name: "malformed")
        public static let unknownKey = Code(name: "unknownKey")
        public static let wrongType = Code(name: "wrongType")
        public static let invalidValue = Code(name: "invalidValue")
        public static let unreadable = Code(name: "unreadable")
    }

    public let code: Code
    /// The dotted key path (`build.retry.maxAttempts`), empty for whole-file problems.
    public let keyPath: String
    public let message: String

    public init(_ code: Code, keyPath: String, _ message: String) {
        self.code = code
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String { message }
}
