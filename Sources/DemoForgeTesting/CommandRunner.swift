import Foundation

/// The result of running a command to its end.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs the `demoforge` binary and other programs as real child processes.
public enum CommandRunner {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `demoforge` binary: `$DEMOFORGE_BIN`, else `.build/debug/demoforge`.
    public static var demoforgeBinary: String {
        if let path = ProcessInfo.processInfo.environment["DEMOFORGE_BIN"] { return path }
        return packageRoot.appendingPathComponent(".build/debug/demoforge").path
    }

    /// Starts a process with pipes for its output; the caller waits or kills it.
    public static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        cwd: URL? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let cwd { process.currentDirectoryURL = cwd }
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs a program to its end and collects its output.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        cwd: URL? = nil
    ) throws -> CommandResult {
        let process = try start(executable, arguments, environment: environment, cwd: cwd)
        let outPipe = process.standardOutput as! Pipe
        let errPipe = process.standardError as! Pipe
        // Read both pipes to their end concurrently so that neither can fill and stall the child.
        let errBox = DataBox()
        let errDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        reader.start()
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self)
        )
    }

    /// Runs `demoforge` with the given arguments against a workspace.
    public static func demoforge(
        _ arguments: [String],
        workspace: URL? = nil,
        environment: [String: String] = [:],
        cwd: URL? = nil
    ) throws -> CommandResult {
        var args = arguments
        if let workspace { args = ["--workspace", workspace.path] + args }
        return try run(demoforgeBinary, args, environment: environment, cwd: cwd)
    }
}

/// A buffer written by one reader thread and read after it signals.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
