import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One browser window size to capture.
public struct Viewport: Sendable, Hashable {
    /// File-safe name (`^[a-z0-9][a-z0-9-]{0,62}$`); the PNG is `<name>.png`.
    public var name: String
    /// CSS pixels; also the PNG's width (device scale factor 1).
    public var width: Int
    /// CSS pixels of the window; the PNG is at least this tall (full page).
    public var height: Int
    /// Emulates a mobile device (meta viewport, overlay scrollbars).
    public var mobile: Bool

    /// Creates a viewport.
    public init(name: String, width: Int, height: Int, mobile: Bool = false) {
        self.name = name
        self.width = width
        self.height = height
        self.mobile = mobile
    }

    /// 1280x800.
    public static let desktop = Viewport(name: "desktop", width: 1280, height: 800)
    /// 390x844, mobile.
    public static let mobile = Viewport(name: "mobile", width: 390, height: 844, mobile: true)
}

/// What a snapshot runs with. Defaults match `snapshot` in `demoforge.json`.
public struct SnapshotOptions: Sendable {
    /// The browser binary; nil finds `chromium` (or `chromium-browser`, `google-chrome`) on `PATH`.
    public var browser: String?
    /// Hard bound on the whole snapshot (launch, every viewport, teardown not included).
    public var timeoutSeconds: Double = 30
    /// The window sizes, one PNG each.
    public var viewports: [Viewport] = [.desktop, .mobile]
    /// After the load event, wait until no request has been in flight for this long...
    public var networkQuietSeconds: Double = 0.5
    /// ...but no longer than this after the load event.
    public var networkQuietMaxSeconds: Double = 3
    /// Between SIGTERM and SIGKILL to the browser's process group.
    public var teardownGraceSeconds: Double = 2
    /// Full-page captures are cut at this height in CSS pixels.
    public var maxPageHeight: Int = 16384
    /// More browser flags (after the built-in ones).
    public var extraArguments: [String] = []
    /// Called right after the browser started (e.g. to record its process group for crash recovery).
    public var onLaunch: (@Sendable (BrowserLaunch) -> Void)?

    /// Creates options with the defaults.
    public init() {}
}

/// The started browser, as reported to ``SnapshotOptions/onLaunch``.
public struct BrowserLaunch: Sendable {
    /// The browser's pid, which is also its process group and session id.
    public let pid: Int32
    /// The process group torn down at the end (same as `pid`).
    public var processGroup: Int32 { pid }
    /// Temp folder with the user data dir; removed at the end.
    public let temporaryDirectory: String
}

extension Snapshotter {
    /// The path of the first of `chromium`, `chromium-browser`, `google-chrome` found on `PATH`, if any.
    public static func findBrowser(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let folders = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for folder in folders where access(folder + "/" + name, X_OK) == 0 {
                return folder + "/" + name
            }
        }
        return nil
    }
}
