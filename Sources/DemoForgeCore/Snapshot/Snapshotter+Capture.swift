import DemoForgeStore
import DemoForgeSystem
import Foundation

/// The DevTools side of one snapshot: browser version, then every viewport in turn.
struct Capture: Sendable {
    var report: SnapshotReport

    struct Work: Sendable {
        let connection: CDPConnection
        let url: String
        let artifactsDir: URL
        let options: SnapshotOptions
        let step: StepTracker
        let start: Double

        func run() async throws -> Capture {
            step.set("waiting for the browser's DevTools pipe")
            let version = try await connection.send("Browser.getVersion")
            let launchMs = Int((monotonicSeconds() - start) * 1000)
            var results: [SnapshotReport.ViewportResult] = []
            for viewport in options.viewports {
                results.append(try await capture(viewport))
            }
            return Capture(
                report: SnapshotReport(
                    url: url,
                    browser: version[path: "product"]?.stringValue ?? "unknown",
                    startedAt: Date(),
                    launchMs: launchMs,
                    teardownMs: 0,
                    totalMs: 0,
                    viewports: results,
                    reportFile: ""
                )
            )
        }

        private func capture(_ viewport: Viewport) async throws -> SnapshotReport.ViewportResult {
            let begin = monotonicSeconds()
            step.set("opening a page for viewport \(viewport.name)")
            let target = try await connection.send("Target.createTarget", ["url": "about:blank"])
            guard let targetID = target[path: "targetId"]?.stringValue else {
                throw SnapshotError(.protocolError, "Target.createTarget returned no targetId: \(target.compact())")
            }
            let attached = try await connection.send(
                "Target.attachToTarget",
                ["targetId": .string(targetID), "flatten": true]
            )
            guard let session = attached[path: "sessionId"]?.stringValue else {
                throw SnapshotError(.protocolError, "Target.attachToTarget returned no sessionId")
            }
            let recorder = PageRecorder(connection: connection, sessionID: session, frameID: targetID)
            connection.setHandler(session: session) { recorder.handle($0) }
            defer {
                connection.setHandler(session: session, nil)
                connection.post("Target.closeTarget", ["targetId": .string(targetID)])
            }
            for domain in ["Page", "Runtime", "Log", "Network"] {
                _ = try await connection.send("\(domain).enable", session: session)
            }
            _ = try await connection.send(
                "Emulation.setDeviceMetricsOverride",
                [
                    "width": .int(Int64(viewport.width)), "height": .int(Int64(viewport.height)),
                    "deviceScaleFactor": 1, "mobile": .bool(viewport.mobile),
                ],
                session: session
            )
            let setupDone = monotonicSeconds()

            step.set("navigating to \(url) (viewport \(viewport.name))")
            let navigation = try await connection.send("Page.navigate", ["url": .string(url)], session: session)
            let navigated = monotonicSeconds()
            if let errorText = navigation[path: "errorText"]?.stringValue, !errorText.isEmpty,
                errorText != "net::ERR_HTTP_RESPONSE_CODE_FAILURE"
            {
                throw SnapshotError(.unreachable, "preview unreachable: \(url) (\(errorText))")
            }

            step.set("waiting for the load event of \(url) (viewport \(viewport.name))")
            try await recorder.wait { state, _ in
                state.loadedAt != nil || state.gone != nil ? .done : .recheck(after: 1)
            }
            try throwIfGone(recorder)
            let loaded = monotonicSeconds()

            step.set("waiting for network quiet on \(url) (viewport \(viewport.name))")
            let quiet = options.networkQuietSeconds
            let quietLimit = (recorder.state.withLock { $0.loadedAt } ?? loaded) + options.networkQuietMaxSeconds
            try await recorder.wait { state, now in
                if state.gone != nil || now >= quietLimit { return .done }
                guard state.inFlight.isEmpty else { return .recheck(after: quietLimit - now) }
                let idle = now - state.lastNetworkActivity
                return idle >= quiet ? .done : .recheck(after: min(quiet - idle, quietLimit - now))
            }
            try throwIfGone(recorder)
            let settled = monotonicSeconds()

            step.set("taking the screenshot of \(url) (viewport \(viewport.name))")
            let metrics = try await connection.send("Page.getLayoutMetrics", session: session)
            let contentHeight = metrics[path: "cssContentSize.height"]?.doubleValue ?? Double(viewport.height)
            let height = min(max(Int(contentHeight.rounded(.up)), viewport.height), options.maxPageHeight)
            let shot = try await connection.send(
                "Page.captureScreenshot",
                [
                    "format": "png", "captureBeyondViewport": true,
                    "clip": [
                        "x": 0, "y": 0, "width": .int(Int64(viewport.width)), "height": .int(Int64(height)),
                        "scale": 1,
                    ],
                ],
                session: session
            )
            guard let base64 = shot[path: "data"]?.stringValue, let png = Data(base64Encoded: base64),
                let size = pngDimensions(png)
            else {
                throw SnapshotError(.protocolError, "Page.captureScreenshot returned no PNG for \(viewport.name)")
            }
            let file = "\(viewport.name).png"
            let fileURL = artifactsDir.appendingPathComponent(file)
            do {
                try AtomicFile.write(png, to: fileURL)
            } catch {
                throw SnapshotError(.io, "Cannot write \(fileURL.path): \(error)", underlying: error)
            }
            let done = monotonicSeconds()
            let state = recorder.state.withLock { $0 }
            let ms = { (from: Double, to: Double) in Int(((to - from) * 1000).rounded()) }
            return SnapshotReport.ViewportResult(
                name: viewport.name,
                width: viewport.width,
                height: viewport.height,
                mobile: viewport.mobile,
                file: file,
                pngBytes: png.count,
                pngWidth: size.width,
                pngHeight: size.height,
                status: state.documentStatus,
                consoleErrors: state.consoleErrors,
                exceptions: state.exceptions,
                dialogs: state.dialogs,
                failedRequests: state.failedRequests,
                networkQuiet: state.inFlight.isEmpty && settled - state.lastNetworkActivity >= quiet - 0.001,
                timings: .init(
                    setupMs: ms(begin, setupDone),
                    navigateMs: ms(setupDone, navigated),
                    loadMs: ms(setupDone, loaded),
                    quietMs: ms(loaded, settled),
                    screenshotMs: ms(settled, done),
                    totalMs: ms(begin, done)
                )
            )
        }

        private func throwIfGone(_ recorder: PageRecorder) throws {
            if let reason = recorder.state.withLock({ $0.gone }) {
                throw SnapshotError(.browserExited, "Snapshot of \(url) failed: \(reason)")
            }
        }
    }
}
