/// How a command ends unsuccessfully: the message and the exit status (1 failure, 2 bad usage or input).
struct CLIError: Error, CustomStringConvertible {
    let status: Int32
    let message: String
    var description: String { message }

    /// Bad usage: exit 2.
    static func usage(_ message: String) -> CLIError { CLIError(status: 2, message: message) }
    /// Bad input (a bad brief, config, slug): exit 2.
    static func input(_ message: String) -> CLIError { CLIError(status: 2, message: message) }
    /// The work failed: exit 1.
    static func failure(_ message: String) -> CLIError { CLIError(status: 1, message: message) }
}
