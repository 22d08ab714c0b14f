import Foundation

/// One attempt of a retried run.
public struct AttemptRecord: Sendable {
    /// 1-based attempt number.
    public let attempt: Int
    /// How it ended.
    public let outcome: AttemptOutcome
    /// Seconds the attempt took (0 when it could not be started).
    public var durationSeconds: Double {
        if case .finished(let result) = outcome { return result.durationSeconds }
        return 0
    }
}

/// Something that happened during a retried run, for live display.
public enum ProcessEvent: Sendable {
    /// Attempt `attempt` was spawned as group `pid`.
    case attemptStarted(attempt: Int, pid: Int32)
    /// A line of output from attempt `attempt`.
    case output(attempt: Int, line: OutputLine)
    /// Attempt `attempt` ended (or could not start).
    case attemptFinished(attempt: Int, outcome: AttemptOutcome)
    /// "attempt N failed, retrying in X s": the backoff wait that starts now.
    case retrying(afterAttempt: Int, delaySeconds: Double, reason: String)
}

/// The outcome of a retried run.
public struct RetryReport: Sendable {
    /// How the whole run ended.
    public enum Outcome: Sendable, Hashable {
        /// An attempt succeeded.
        case succeeded
        /// The last attempt failed (or a failure that is not retried happened).
        case failed
        /// The awaiting task was cancelled (during an attempt or a backoff wait).
        case cancelled
    }

    /// How the whole run ended.
    public let outcome: Outcome
    /// Every attempt made, in order.
    public let attempts: [AttemptRecord]
    /// The backoff waits actually waited, in seconds (a cancelled wait is recorded as far as it got).
    public let waitedSeconds: [Double]
    /// The last attempt's result, when it ran.
    public var lastResult: ProcessResult? {
        if case .finished(let result)? = attempts.last?.outcome { return result }
        return nil
    }
    /// One line for people, e.g. `failed after 3 attempts: exited with status 1`.
    public var message: String {
        let last = attempts.last?.outcome.message ?? "not started"
        let count = attempts.count == 1 ? "1 attempt" : "\(attempts.count) attempts"
        switch outcome {
        case .succeeded: return "succeeded after \(count)"
        case .failed: return "failed after \(count): \(last)"
        case .cancelled: return "cancelled after \(count)"
        }
    }
}
