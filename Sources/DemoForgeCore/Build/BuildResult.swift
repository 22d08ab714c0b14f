import DemoForgeProcess
import DemoForgeStore
import Foundation

/// What a build did, as stored under `results.build` in the client's context.
public struct BuildResult: Sendable {
    public enum State: String, Sendable {
        case succeeded
        case failed
        case cancelled
    }

    public var state: State
    public var message: String
    public let argv: [String]
    public let attempts: [AttemptRecord]
    public let waitedSeconds: [Double]
    public let outputDir: String
    public let startedAt: Date
    public let durationSeconds: Double
    public let warnings: Int
    public let lastLines: [String]
    public let exitStatus: String?
    /// Which timer stopped the last attempt, if any (`inactivityTimeout`, `maxDuration`).
    public let timer: String?

    init(report: RetryReport, argv: [String], outputDir: String, started: Date, warnings: Int) {
        switch report.outcome {
        case .succeeded: state = .succeeded
        case .failed: state = .failed
        case .cancelled: state = .cancelled
        }
        message = report.message
        self.argv = argv
        attempts = report.attempts
        waitedSeconds = report.waitedSeconds
        self.outputDir = outputDir
        startedAt = started
        durationSeconds = Date().timeIntervalSince(started)
        self.warnings = warnings
        let last = report.lastResult
        lastLines = (last?.lines ?? []).suffix(50).map(\.text)
        exitStatus = last.map { "\($0.exitStatus)" }
        timer = last.flatMap { $0.stopReason.isTimeout ? $0.stopReason.name : nil }
    }

    /// The document for `results.build`.
    public func toJSON() -> JSONValue {
        [
            "state": .string(state.rawValue),
            "message": .string(message),
            "command": .array(argv.map { .string($0) }),
            "attempts": .int(Int64(attempts.count)),
            "attemptDurationsSeconds": .array(attempts.map { .double(($0.durationSeconds * 1000).rounded() / 1000) }),
            "backoffSeconds": .array(waitedSeconds.map { .double(($0 * 1000).rounded() / 1000) }),
            "durationSeconds": .double((durationSeconds * 1000).rounded() / 1000),
            "exitStatus": exitStatus.map { .string($0) } ?? .null,
            "timer": timer.map { .string($0) } ?? .null,
            "outputDir": .string(outputDir),
            "warnings": .int(Int64(warnings)),
            "lastLines": .array(lastLines.map { .string($0) }),
            "startedAt": .string(Timestamp.format(startedAt)),
        ]
    }
}
