import DemoForgeStore
import Foundation

/// What a snapshot found: one entry per viewport; written as `report.json` next to the PNGs.
public struct SnapshotReport: Sendable, Equatable {
    /// A console error (`console.error`, or a browser log entry of level error).
    public struct ConsoleError: Sendable, Equatable {
        /// `console`, or the log entry's source (`network`, `javascript`, ...).
        public var source: String
        /// The message.
        public var text: String
        /// Where it came from, if known.
        public var url: String?
        /// 1-based line, if known.
        public var line: Int?
    }

    /// An uncaught exception.
    public struct PageException: Sendable, Equatable {
        /// The exception's description (e.g. `Error: kaboom\n    at ...`).
        public var message: String
        /// The script, if known.
        public var url: String?
        /// 1-based line, if known.
        public var line: Int?
        /// 1-based column, if known.
        public var column: Int?
    }

    /// A JavaScript dialog the page opened.
    public struct Dialog: Sendable, Equatable {
        /// `alert`, `confirm`, `prompt` or `beforeunload`.
        public var type: String
        /// The dialog's text.
        public var message: String
        /// `dismissed` (or `accepted` for beforeunload, so that navigation proceeds).
        public var action: String
    }

    /// A request that failed or answered HTTP 400 or more.
    public struct FailedRequest: Sendable, Equatable {
        /// The request's URL.
        public var url: String
        /// The HTTP status, when there was a response.
        public var status: Int?
        /// `HTTP 404`, or the network error (`net::ERR_...`).
        public var error: String
    }

    /// Milliseconds spent on each step of one viewport.
    public struct Timings: Sendable, Equatable {
        /// Target creation, attach and domain setup.
        public var setupMs: Int
        /// `Page.navigate` until its reply.
        public var navigateMs: Int
        /// Navigation start until the load event.
        public var loadMs: Int
        /// Load event until the network was quiet (or the bound passed).
        public var quietMs: Int
        /// The screenshot and the PNG write.
        public var screenshotMs: Int
        /// The whole viewport.
        public var totalMs: Int
    }

    /// One viewport's result.
    public struct ViewportResult: Sendable, Equatable {
        /// The viewport's name.
        public var name: String
        /// Requested width (CSS px).
        public var width: Int
        /// Requested height (CSS px).
        public var height: Int
        /// Mobile emulation on or off.
        public var mobile: Bool
        /// The PNG's file name inside the artifacts folder (`<name>.png`).
        public var file: String
        /// The PNG's size in bytes.
        public var pngBytes: Int
        /// The PNG's pixel width (from its IHDR chunk).
        public var pngWidth: Int
        /// The PNG's pixel height.
        public var pngHeight: Int
        /// HTTP status of the main document, if it had one.
        public var status: Int?
        /// Console errors, in order.
        public var consoleErrors: [ConsoleError]
        /// Uncaught exceptions, in order.
        public var exceptions: [PageException]
        /// Dialogs opened (and answered), in order.
        public var dialogs: [Dialog]
        /// Failed requests, in order.
        public var failedRequests: [FailedRequest]
        /// False when requests were still in flight when the quiet bound passed.
        public var networkQuiet: Bool
        /// Step durations.
        public var timings: Timings
    }

    /// The URL captured.
    public var url: String
    /// The browser's product string (e.g. `Chrome/156.0...`).
    public var browser: String
    /// Wall-clock start.
    public var startedAt: Date
    /// Browser start until the DevTools pipe answered.
    public var launchMs: Int
    /// Browser teardown (group empty, temp folder removed).
    public var teardownMs: Int
    /// The whole snapshot.
    public var totalMs: Int
    /// One entry per viewport, in the order asked.
    public var viewports: [ViewportResult]
    /// `<artifactsDir>/report.json`.
    public var reportFile: String

    /// The report as written to `report.json`.
    public var json: JSONValue {
        [
            "url": .string(url),
            "browser": .string(browser),
            "startedAt": .string(startedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "launchMs": .int(Int64(launchMs)),
            "teardownMs": .int(Int64(teardownMs)),
            "totalMs": .int(Int64(totalMs)),
            "viewports": .array(viewports.map(\.json)),
        ]
    }
}

extension SnapshotReport.ViewportResult {
    var json: JSONValue {
        [
            "name": .string(name),
            "width": .int(Int64(width)),
            "height": .int(Int64(height)),
            "mobile": .bool(mobile),
            "file": .string(file),
            "pngBytes": .int(Int64(pngBytes)),
            "pngWidth": .int(Int64(pngWidth)),
            "pngHeight": .int(Int64(pngHeight)),
            "status": status.map { .int(Int64($0)) } ?? .null,
            "consoleErrors": .array(
                consoleErrors.map {
                    [
                        "source": .string($0.source), "text": .string($0.text), "url": optional($0.url),
                        "line": optional($0.line),
                    ]
                }
            ),
            "exceptions": .array(
                exceptions.map {
                    [
                        "message": .string($0.message), "url": optional($0.url), "line": optional($0.line),
                        "column": optional($0.column),
                    ]
                }
            ),
            "dialogs": .array(
                dialogs.map {
                    ["type": .string($0.type), "message": .string($0.message), "action": .string($0.action)]
                }
            ),
            "failedRequests": .array(
                failedRequests.map {
                    ["url": .string($0.url), "status": optional($0.status), "error": .string($0.error)]
                }
            ),
            "networkQuiet": .bool(networkQuiet),
            "timings": [
                "setupMs": .int(Int64(timings.setupMs)),
                "navigateMs": .int(Int64(timings.navigateMs)),
                "loadMs": .int(Int64(timings.loadMs)),
                "quietMs": .int(Int64(timings.quietMs)),
                "screenshotMs": .int(Int64(timings.screenshotMs)),
                "totalMs": .int(Int64(timings.totalMs)),
            ],
        ]
    }
}

private func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }
private func optional(_ number: Int?) -> JSONValue { number.map { .int(Int64($0)) } ?? .null }

/// Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian).
public func pngDimensions(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data.prefix(24))
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    guard bytes.count == 24, Array(bytes[0..<8]) == signature, bytes[12..<16].elementsEqual("IHDR".utf8) else {
        return nil
    }
    func bigEndian(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
    return (bigEndian(16), bigEndian(20))
}
