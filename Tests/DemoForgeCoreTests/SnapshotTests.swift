import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization
import Testing

@testable import DemoForgeCore

#if canImport(Glibc)
    import Glibc
#endif

/// Browser snapshots with Debian's chromium against a real local HTTP server (loopback, ports chosen by bind(0)).
@Suite(.serialized, .timeLimit(.minutes(1)))
struct SnapshotTests {
    /// Records the browser each snapshot started, to check afterwards that nothing of it is left.
    final class LaunchLog: Sendable {
        let launches = Mutex<[BrowserLaunch]>([])
        var last: BrowserLaunch? { launches.withLock { $0.last } }
    }

    func options(timeout: Double = 20, viewports: [Viewport] = [.desktop, .mobile], log: LaunchLog) -> SnapshotOptions {
        var options = SnapshotOptions()
        options.timeoutSeconds = timeout
        options.viewports = viewports
        options.onLaunch = { launch in log.launches.withLock { $0.append(launch) } }
        return options
    }

    /// Nothing of the browser remains: no live process in its group, the group gone once init has reaped the
    /// re-parented zombies, and no user data dir.
    func expectBrowserGone(_ launch: BrowserLaunch?) async throws {
        let launch = try #require(launch)
        #expect(liveProcesses(inGroup: launch.processGroup) == [])
        // Helpers orphaned by the browser's exit are zombies until init reaps them (here: every ~2 s).
        let deadline = monotonicSeconds() + 10
        while kill(-launch.processGroup, 0) == 0 && monotonicSeconds() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(kill(-launch.processGroup, 0) == -1 && errno == ESRCH)
        #expect(!FileManager.default.fileExists(atPath: launch.temporaryDirectory))
    }

    @Test func boomPageRecordsConsoleErrorExceptionAndViewportWidths() async throws {
        let site = try await SnapshotTestSite()
        defer { site.stop() }
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let report = try await Snapshotter(options: options(log: log))
            .snapshot(url: site.url("boom.html"), artifactsDir: artifacts)
        try await expectBrowserGone(log.last)

        #expect(report.viewports.map(\.name) == ["desktop", "mobile"])
        #expect(try pngSize(artifacts.appendingPathComponent("desktop.png"))?.width == 1280)
        #expect(try pngSize(artifacts.appendingPathComponent("mobile.png"))?.width == 390)
        let json = try AtomicFile.readJSON(artifacts.appendingPathComponent("report.json"))
        #expect(json[path: "url"] == .string(site.url("boom.html")))
        for (index, viewport) in [Viewport.desktop, Viewport.mobile].enumerated() {
            let entry = try #require(json[path: "viewports.\(index)"])
            #expect(entry[path: "name"] == .string(viewport.name))
            #expect(entry[path: "file"] == .string("\(viewport.name).png"))
            #expect(entry[path: "width"] == .int(Int64(viewport.width)))
            #expect(entry[path: "pngWidth"] == .int(Int64(viewport.width)))
            let size =
                try FileManager.default.attributesOfItem(
                    atPath: artifacts.appendingPathComponent("\(viewport.name).png").path
                )[.size] as? Int
            #expect(entry[path: "pngBytes"]?.intValue == size.map(Int64.init))
            #expect(entry[path: "status"] == .int(200))
            #expect(entry[path: "consoleErrors.0.source"] == .string("console"))
            #expect(entry[path: "consoleErrors.0.text"] == .string("boom"))
            #expect(entry[path: "consoleErrors.0.line"] == .int(9))
            #expect(
                entry[path: "consoleErrors"].map { if case .array(let items) = $0 { items.count } else { -1 } } == 1)
            let exception = entry[path: "exceptions.0.message"]?.stringValue ?? ""
            #expect(exception.hasPrefix("Error: kaboom"))
            #expect(entry[path: "exceptions"].map { if case .array(let items) = $0 { items.count } else { -1 } } == 1)
            // The browser's own favicon probe may add a second 404 entry; the page's missing image must be there.
            let failed = report.viewports[index].failedRequests
            #expect(failed.contains(.init(url: site.url("missing.png"), status: 404, error: "HTTP 404")))
            #expect(failed.allSatisfy { $0.status == 404 })
            #expect(entry[path: "dialogs"] == .array([]))
        }
    }

    @Test func alertIsDismissedAndRecorded() async throws {
        let site = try await SnapshotTestSite()
        defer { site.stop() }
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let report = try await Snapshotter(options: options(viewports: [.desktop], log: log))
            .snapshot(url: site.url("alert.html"), artifactsDir: artifacts)
        try await expectBrowserGone(log.last)
        #expect(report.viewports.count == 1)
        #expect(report.viewports.first?.dialogs == [.init(type: "alert", message: "hi", action: "dismissed")])
        #expect(report.viewports.first?.status == 200)
        let json = try AtomicFile.readJSON(artifacts.appendingPathComponent("report.json"))
        #expect(json[path: "viewports.0.dialogs.0.type"] == .string("alert"))
        #expect(json[path: "viewports.0.dialogs.0.message"] == .string("hi"))
        #expect(try pngSize(artifacts.appendingPathComponent("desktop.png"))?.width == 1280)
    }

    @Test func fullPageCaptureIsAsTallAsThePage() async throws {
        let site = try await SnapshotTestSite()
        defer { site.stop() }
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let report = try await Snapshotter(options: options(viewports: [.desktop], log: log))
            .snapshot(url: site.url("tall.html"), artifactsDir: artifacts)
        try await expectBrowserGone(log.last)
        let size = try pngSize(artifacts.appendingPathComponent("desktop.png"))
        #expect(size?.width == 1280)
        #expect(size?.height == 2000)
        #expect(report.viewports.first?.consoleErrors == [])
        #expect(report.viewports.first?.networkQuiet == true)
    }

    @Test func portWithoutListenerIsUnreachableWithinTheTimeout() async throws {
        let probe = try TestListener(address: "127.0.0.1", port: 0)
        let port = probe.port
        probe.close()  // nothing listens on `port` now
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let url = "http://127.0.0.1:\(port)/"
        let start = monotonicSeconds()
        let error = await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: options(timeout: 10, log: log)).snapshot(
                url: url, artifactsDir: artifacts)
        }
        let elapsed = monotonicSeconds() - start
        #expect(error?.code == .unreachable)
        #expect(error?.message == "preview unreachable: \(url) (net::ERR_CONNECTION_REFUSED)")
        #expect(elapsed < 10)
        try await expectBrowserGone(log.last)
        #expect(!FileManager.default.fileExists(atPath: artifacts.appendingPathComponent("report.json").path))
    }

    @Test func cancellationMidSnapshotTearsTheBrowserDown() async throws {
        // A server that accepts the connection and never answers: the snapshot hangs in navigation.
        let hanging = try TestListener(address: "127.0.0.1", port: 0)
        defer { hanging.close() }
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let snapshotter = Snapshotter(options: options(timeout: 50, log: log))
        let url = "http://127.0.0.1:\(hanging.port)/"
        let task = Task { try await snapshotter.snapshot(url: url, artifactsDir: artifacts) }
        let connection = await hanging.acceptOne()  // the browser is mid-navigation now
        defer { if connection >= 0 { close(connection) } }
        #expect(connection >= 0)
        let start = monotonicSeconds()
        task.cancel()
        let result = await task.result
        #expect(monotonicSeconds() - start < 10)
        #expect(throws: SnapshotError.self) { try result.get() }
        #expect((try? result.get()) == nil)
        if case .failure(let error as SnapshotError) = result {
            #expect(error.code == .cancelled)
            #expect(error.message == "Snapshot of \(url) was cancelled while navigating to \(url) (viewport desktop)")
        }
        try await expectBrowserGone(log.last)
    }

    @Test func hangingPageTimesOutNamingTheStep() async throws {
        let hanging = try TestListener(address: "127.0.0.1", port: 0)
        defer { hanging.close() }
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        let url = "http://127.0.0.1:\(hanging.port)/"
        let start = monotonicSeconds()
        // 8 s: far more than the browser needs to reach navigation, even on a loaded machine.
        let error = await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: options(timeout: 8, log: log)).snapshot(
                url: url, artifactsDir: artifacts)
        }
        let elapsed = monotonicSeconds() - start
        #expect(error?.code == .timeout)
        #expect(
            error?.message == "Snapshot of \(url) timed out after 8.0 s while navigating to \(url) (viewport desktop)")
        #expect(elapsed >= 8 && elapsed < 8 + 2 + 5)  // bound + teardown grace + kill confirmation
        try await expectBrowserGone(log.last)
    }

    @Test func browserThatExitsAtOnceIsReported() async throws {
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        var quick = options(timeout: 10, log: log)
        quick.browser = "/bin/true"
        let error = await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: quick).snapshot(url: "http://127.0.0.1:1/", artifactsDir: artifacts)
        }
        #expect(error?.code == .browserExited)
        // Either the reader sees EOF first or the first command's write gets EPIPE.
        let message = error?.message ?? ""
        #expect(
            message == "Browser connection lost: the browser closed the DevTools pipe"
                || message
                    == "Browser connection lost: the browser closed the DevTools pipe (sending Browser.getVersion)"
        )
        try await expectBrowserGone(log.last)
    }

    @Test func browserGroupIgnoringSIGTERMIsKilled() async throws {
        // A fake browser that ignores SIGTERM (inherited by its child), keeps the pipe open and never answers.
        let folder = try makeTempFolder("fake-browser")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("stubborn")
        try Data("#!/bin/sh\ntrap '' TERM\nsleep 600 &\nsleep 600\n".utf8).write(to: script)
        #expect(chmod(script.path, 0o755) == 0)
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        var stubborn = options(timeout: 1, log: log)
        stubborn.browser = script.path
        stubborn.teardownGraceSeconds = 0.5
        let start = monotonicSeconds()
        let error = await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: stubborn).snapshot(url: "http://127.0.0.1:1/", artifactsDir: artifacts)
        }
        #expect(error?.code == .timeout)
        #expect(
            error?.message
                == "Snapshot of http://127.0.0.1:1/ timed out after 1.0 s while waiting for the browser's DevTools pipe"
        )
        #expect(monotonicSeconds() - start < 1 + 0.5 + 5)
        try await expectBrowserGone(log.last)
    }

    @Test func badOptionsAreRefusedBeforeLaunch() async throws {
        let artifacts = try makeTempFolder("artifacts")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let log = LaunchLog()
        var bad = options(viewports: [Viewport(name: "../x", width: 100, height: 100)], log: log)
        await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: bad).snapshot(url: "http://127.0.0.1:1/", artifactsDir: artifacts)
        }
        bad = options(log: log)
        bad.browser = "/nonexistent/chromium"
        let error = await #expect(throws: SnapshotError.self) {
            _ = try await Snapshotter(options: bad).snapshot(url: "http://127.0.0.1:1/", artifactsDir: artifacts)
        }
        #expect(error?.code == .browserNotFound)
        #expect(error?.message == "Browser /nonexistent/chromium does not exist or is not executable")
        #expect(log.last == nil)
    }

    @Test func pngDimensionsReadIHDR() {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        bytes += Array("IHDR".utf8) + [0, 0, 0x05, 0x00, 0, 0, 0x03, 0x20]
        #expect(pngDimensions(Data(bytes))?.width == 1280)
        #expect(pngDimensions(Data(bytes))?.height == 800)
        #expect(pngDimensions(Data(bytes.prefix(20))) == nil)
    }
}

extension TestListener {
    /// Accepts one connection on a dedicated thread; returns its descriptor (or -1).
    func acceptOne() async -> Int32 {
        let fd = self.fd
        return await onDedicatedThread(name: "test-accept") { accept(fd, nil, nil) }
    }
}
