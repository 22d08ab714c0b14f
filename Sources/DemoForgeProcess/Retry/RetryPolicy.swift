#if canImport(Glibc)
    import Glibc
#endif

/// How often and how patiently a failed run is tried again.
///
/// The wait after attempt `n` is `initialDelaySeconds * multiplier^(n-1)`, capped at `maxDelaySeconds`, then
/// moved by up to ±`jitter` (20 %) so that many clients do not retry in lockstep, and capped again.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in total (1 = no retry).
    public var maxAttempts: Int
    /// The wait after the first failure.
    public var initialDelaySeconds: Double
    /// Each further wait is this many times the previous one.
    public var multiplier: Double
    /// No wait is longer than this.
    public var maxDelaySeconds: Double
    /// Relative jitter: 0.2 means ±20 %.
    public var jitter: Double

    /// Creates a policy; defaults follow DESIGN.md's `build.retry`.
    public init(
        maxAttempts: Int = 3, initialDelaySeconds: Double = 1, multiplier: Double = 2, maxDelaySeconds: Double = 30,
        jitter: Double = 0.2
    ) {
        self.maxAttempts = maxAttempts
        self.initialDelaySeconds = initialDelaySeconds
        self.multiplier = multiplier
        self.maxDelaySeconds = maxDelaySeconds
        self.jitter = jitter
    }

    /// No retries at all.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `attempt + 1`, without jitter.
    public func baseDelay(afterAttempt attempt: Int) -> Double {
        let raw = initialDelaySeconds * pow(multiplier, Double(max(0, attempt - 1)))
        return min(raw, maxDelaySeconds)
    }

    /// The wait before attempt `attempt + 1` with jitter; `unit` is a random number in -1...1.
    public func delay(afterAttempt attempt: Int, unit: Double = Double.random(in: -1...1)) -> Double {
        let base = baseDelay(afterAttempt: attempt)
        return max(0, min(base * (1 + jitter * max(-1, min(1, unit))), maxDelaySeconds))
    }

    /// Whether an attempt's outcome is worth another attempt.
    ///
    /// - exit status ≠ 0 (or killed by a signal it did not get from us): retry, it may be transient;
    /// - inactivity timeout: retry, a hang is often transient (a stalled download, a lock);
    /// - total-duration timeout: **no retry**: a build that used its whole budget will likely do so again, and
    ///   retrying would multiply the worst case by `maxAttempts`;
    /// - exec failure, invalid request, registry failure: no retry, nothing will change;
    /// - resource failure while spawning (`spawnFailed`: pipes, process limit): retry;
    /// - cancellation or an explicit stop: never.
    public func decision(for outcome: AttemptOutcome) -> RetryDecision {
        switch outcome {
        case .finished(let result):
            if result.succeeded { return .succeeded }
            switch result.stopReason {
            case .exited, .inactivityTimeout: return .retry
            case .maxDuration, .cancelled, .stopped: return .giveUp
            }
        case .failedToStart(let error):
            return error.code == .spawnFailed ? .retry : .giveUp
        }
    }
}

/// What became of one attempt.
public enum AttemptOutcome: Sendable {
    /// The process ran; this is how it ended.
    case finished(ProcessResult)
    /// It could not be started.
    case failedToStart(ProcessError)

    /// One line for people.
    public var message: String {
        switch self {
        case .finished(let result): return result.message
        case .failedToStart(let error): return error.message
        }
    }
}

/// The verdict on an attempt.
public enum RetryDecision: Sendable, Hashable {
    /// It worked; stop.
    case succeeded
    /// Try again (if attempts are left).
    case retry
    /// It failed in a way another attempt will not fix (or was cancelled).
    case giveUp
}

#if canImport(Glibc)
    import Glibc
#endif
