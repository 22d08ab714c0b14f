import DemoForgeStore
import DemoForgeSystem
import DemoForgeProcess
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Takes full-page PNGs of a URL in headless Chromium, one per viewport, and reports what the page did.
///
/// Each call starts its own browser (own process group, fresh user data dir), drives it over
/// `--remote-debugging-pipe`, and tears the whole group down at the end — on success, on error, on timeout and
/// on cancellation — before returning.
///
/// - Important: the first snapshot sets SIGPIPE to ignored for the whole process, so that a browser that dies while
///   a command is being written gives an error instead of killing the program.
public struct Snapshotter: Sendable {
    /// The options every snapshot of this value uses.
    public let options: SnapshotOptions

    /// Creates a snapshotter.
    public init(options: SnapshotOptions = SnapshotOptions()) {
        self.options = options
    }

    /// Captures `url` into `artifactsDir` (`<viewport>.png` per viewport and `report.json`).
    ///
    /// - Throws: ``SnapshotError``: `.unreachable` ("preview unreachable: <url> (<net error>)") when nothing
    ///   answers, `.timeout` after `timeoutSeconds` naming the step, `.cancelled`, `.browserNotFound`,
    ///   `.launchFailed` (with the browser's last log lines), `.browserExited`, `.io`, `.invalidOptions`.
    public func snapshot(url: String, artifactsDir: URL) async throws(SnapshotError) -> SnapshotReport {
        try validate()
        let executable = try browserPath()
        do {
            try FileManager.default.createDirectory(at: artifactsDir, withIntermediateDirectories: true)
        } catch {
            throw SnapshotError(.io, "Cannot create \(artifactsDir.path): \(error.localizedDescription)")
        }
        if Task.isCancelled {
            throw SnapshotError(.cancelled, "Snapshot of \(url) was cancelled before the browser started")
        }
        let startedAt = Date()
        let start = monotonicSeconds()
        let supervisor = options.supervisor ?? ProcessSupervisor()
        let browser = try await BrowserProcess.launch(
            executable: executable, extraArguments: options.extraArguments, supervisor: supervisor,
            grace: options.teardownGraceSeconds)
        options.onLaunch?(BrowserLaunch(pid: browser.pid, temporaryDirectory: browser.temporaryDirectory))

        let outcome: Result<Capture, SnapshotError>
        var connection: CDPConnection?
        do {
            let live = try CDPConnection(commandFD: browser.commandFD, eventFD: browser.eventFD)
            connection = live
            live.start()
            let step = StepTracker()
            let work = Capture.Work(
                connection: live, url: url, artifactsDir: artifactsDir, options: options, step: step, start: start
            )
            outcome = await Self.bounded(seconds: options.timeoutSeconds, url: url, step: step) {
                try await work.run()
            }
        } catch {
            outcome = .failure(error)
        }
        // Cleanup that must happen even when the caller is cancelled: neither step observes cancellation.
        await connection?.shutdown()
        let teardown = await browser.terminate()

        var capture: Capture
        switch outcome {
        case .success(let value): capture = value
        case .failure(var error):
            if error.code == .browserExited || error.code == .launchFailed {
                let tail = browser.logTail()
                if !tail.isEmpty { error = SnapshotError(error.code, error.message + "\nBrowser log:\n" + tail) }
            }
            throw error
        }
        guard teardown.confirmedEmpty else {
            throw SnapshotError(
                .browserExited,
                "Browser process group \(browser.pid) did not empty after SIGKILL; live pids: "
                    + ProcessGroups.livePids(ofGroup: browser.pid).map(String.init).joined(separator: ", ")
            )
        }
        let reportFile = artifactsDir.appendingPathComponent("report.json")
        capture.report.startedAt = startedAt
        capture.report.teardownMs = Int(teardown.seconds * 1000)
        capture.report.totalMs = Int((monotonicSeconds() - start) * 1000)
        capture.report.reportFile = reportFile.path
        do {
            try AtomicFile.write(capture.report.json, to: reportFile)
        } catch {
            throw SnapshotError(.io, "Cannot write \(reportFile.path): \(error)", underlying: error)
        }
        return capture.report
    }

    private func validate() throws(SnapshotError) {
        guard options.timeoutSeconds > 0 else {
            throw SnapshotError(.invalidOptions, "snapshot.timeoutSeconds must be > 0, got \(options.timeoutSeconds)")
        }
        guard !options.viewports.isEmpty else {
            throw SnapshotError(.invalidOptions, "snapshot.viewports is empty")
        }
        var seen: Set<String> = []
        for viewport in options.viewports {
            guard viewport.name.wholeMatch(of: /[a-z0-9][a-z0-9-]{0,62}/) != nil else {
                throw SnapshotError(
                    .invalidOptions,
                    "Viewport name \"\(viewport.name)\" is not allowed (lowercase letters, digits, dashes)"
                )
            }
            guard viewport.width > 0, viewport.height > 0, viewport.width <= 10000, viewport.height <= 10000 else {
                throw SnapshotError(
                    .invalidOptions,
                    "Viewport \(viewport.name) has size \(viewport.width)x\(viewport.height); allowed 1...10000"
                )
            }
            guard seen.insert(viewport.name).inserted else {
                throw SnapshotError(.invalidOptions, "Viewport name \(viewport.name) is used twice")
            }
        }
    }

    private func browserPath() throws(SnapshotError) -> String {
        if let configured = options.browser {
            guard access(configured, X_OK) == 0 else {
                throw SnapshotError(.browserNotFound, "Browser \(configured) does not exist or is not executable")
            }
            return configured
        }
        guard let found = Self.findBrowser() else {
            throw SnapshotError(
                .browserNotFound,
                "No chromium on PATH; install it (apt-get install -y chromium) or set snapshot.browser"
            )
        }
        return found
    }

    /// Runs `body`, failing with `.timeout` (naming the current step) after `seconds`, or `.cancelled`.
    static func bounded<T: Sendable>(
        seconds: Double,
        url: String,
        step: StepTracker,
        _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, SnapshotError> {
        await withTaskGroup(of: Result<T, SnapshotError>?.self) { group in
            group.addTask {
                do {
                    return .success(try await body())
                } catch let error as SnapshotError {
                    return .failure(error)
                } catch {
                    return .failure(SnapshotError(.cancelled, "Snapshot of \(url) was cancelled while \(step.current)"))
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: .seconds(seconds))
                } catch {
                    return nil
                }
                return .failure(
                    SnapshotError(
                        .timeout,
                        "Snapshot of \(url) timed out after \(seconds) s while \(step.current)"
                    )
                )
            }
            while let next = await group.next() {
                if let result = next {
                    group.cancelAll()
                    return result
                }
            }
            return .failure(SnapshotError(.cancelled, "Snapshot of \(url) was cancelled"))
        }
    }
}

/// The step in progress, for timeout messages.
final class StepTracker: Sendable {
    private let step = Mutex("starting the browser")
    var current: String { step.withLock { $0 } }
    func set(_ text: String) { step.withLock { $0 = text } }
}
