import DemoForgeSystem

extension ProcessSupervisor {
    /// Runs `spec` until an attempt succeeds, the policy gives up, or the task is cancelled.
    ///
    /// Cancellation tears a running attempt down, or ends a backoff wait at once; the report then says
    /// `.cancelled`. Events (attempts, output lines, "retrying in X s") go to `onEvent` as they happen.
    public func run(
        _ spec: ProcessSpec,
        options: SupervisionOptions = SupervisionOptions(),
        retry policy: RetryPolicy,
        onEvent: @escaping @Sendable (ProcessEvent) -> Void = { _ in }
    ) async -> RetryReport {
        var attempts: [AttemptRecord] = []
        var waited: [Double] = []
        var attempt = 1
        while true {
            let number = attempt
            let outcome: AttemptOutcome
            do {
                let result = try await run(
                    spec, options: options, onOutput: { onEvent(.output(attempt: number, line: $0)) },
                    onStart: { onEvent(.attemptStarted(attempt: number, pid: $0.pid)) })
                outcome = .finished(result)
            } catch {
                if error.code == .cancelled {
                    return RetryReport(outcome: .cancelled, attempts: attempts, waitedSeconds: waited)
                }
                outcome = .failedToStart(error)
            }
            attempts.append(AttemptRecord(attempt: number, outcome: outcome))
            onEvent(.attemptFinished(attempt: number, outcome: outcome))
            if case .finished(let result) = outcome, result.stopReason == .cancelled {
                return RetryReport(outcome: .cancelled, attempts: attempts, waitedSeconds: waited)
            }
            switch policy.decision(for: outcome) {
            case .succeeded:
                return RetryReport(outcome: .succeeded, attempts: attempts, waitedSeconds: waited)
            case .giveUp:
                return RetryReport(outcome: .failed, attempts: attempts, waitedSeconds: waited)
            case .retry:
                guard number < policy.maxAttempts else {
                    return RetryReport(outcome: .failed, attempts: attempts, waitedSeconds: waited)
                }
            }
            let delay = policy.delay(afterAttempt: number)
            onEvent(.retrying(afterAttempt: number, delaySeconds: delay, reason: outcome.message))
            let began = monotonicSeconds()
            do {
                try await Task.sleep(for: .seconds(delay))
            } catch {
                waited.append(monotonicSeconds() - began)
                return RetryReport(outcome: .cancelled, attempts: attempts, waitedSeconds: waited)
            }
            waited.append(monotonicSeconds() - began)
            attempt += 1
        }
    }
}
