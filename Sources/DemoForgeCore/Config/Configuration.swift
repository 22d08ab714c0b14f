import DemoForgeStore

/// The whole of `demoforge.json`, validated. Every field has the default of DESIGN.md.
public struct Configuration: Sendable, Equatable {
    public var server = ServerConfig()
    public var ports = PortsConfig()
    public var build = BuildConfig()
    public var agent = AgentConfig()
    public var preview = PreviewConfig()
    public var snapshot = SnapshotConfig()
    public var sse = SSEConfig()
    public var locks = LocksConfig()
    public var cleanup = CleanupConfig()

    public init() {}
}

/// `server.*`: where `demoforge serve` listens.
public struct ServerConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 4321
    /// Required for any non-loopback host; sent as `Authorization: Bearer`.
    public var token: String?
    public init() {}
}

/// `ports.*`: the preview port pool.
public struct PortsConfig: Sendable, Equatable {
    public var from = 8081
    public var to = 8281
    public init() {}
}

/// `*.retry`: how failed attempts are retried.
public struct RetryConfig: Sendable, Equatable {
    public var maxAttempts = 3
    public var initialDelaySeconds = 1.0
    public var multiplier = 2.0
    public var maxDelaySeconds = 30.0
    public init() {}
}

/// `build.*`: how a site is built.
public struct BuildConfig: Sendable, Equatable {
    /// argv; nil means `npm run build` when package.json has a build script.
    public var command: [String]?
    public var outputDir = "public"
    public var inactivityTimeoutSeconds = 120.0
    public var maxDurationSeconds = 1800.0
    public var retry = RetryConfig()
    public var progressPattern = "\\[11ty\\] Writing"
    public init() {}
}

/// `agent.*`: the AI coding agent.
public struct AgentConfig: Sendable, Equatable {
    /// argv with `{{prompt}}` / `{{promptFile}}`; nil means no agent (agent steps are skipped) unless a preset is set.
    public var command: [String]?
    /// A named preset (`claude-code`, `codex`, `aider`, `gemini`) used when `command` is nil.
    public var preset: String?
    public var inactivityTimeoutSeconds = 600.0
    public var maxDurationSeconds = 3600.0
    public init() {}

    /// The known presets and their argv.
    public static let presets: [String: [String]] = [
        "claude-code": ["claude", "-p", "{{prompt}}", "--permission-mode", "acceptEdits"],
        "codex": ["codex", "exec", "--full-auto", "{{prompt}}"],
        "aider": ["aider", "--message", "{{prompt}}", "--yes"],
        "gemini": ["gemini", "--yolo", "-p", "{{prompt}}"],
    ]

    /// The argv to run, from `command` or the preset; nil when no agent is configured.
    public var resolvedCommand: [String]? {
        if let command { return command }
        if let preset { return Self.presets[preset] }
        return nil
    }
}

/// `preview.*`: preview servers.
public struct PreviewConfig: Sendable, Equatable {
    public var command: [String]?
    public var readyTimeoutSeconds = 30.0
    public var idleTimeoutSeconds = 1800.0
    public var stopGraceSeconds = 5.0
    public init() {}
}

/// `snapshot.*`: headless browser screenshots.
public struct SnapshotConfig: Sendable, Equatable {
    /// Path of the browser; nil means `chromium` on PATH.
    public var browser: String?
    public var timeoutSeconds = 30.0
    public var viewports = [
        Viewport(name: "desktop", width: 1280, height: 800),
        Viewport(name: "mobile", width: 390, height: 844, mobile: true),
    ]
    public init() {}
}

/// `sse.*`: Server-Sent Events streams.
public struct SSEConfig: Sendable, Equatable {
    public var heartbeatSeconds = 15.0
    public var maxStreams = 10000
    public var maxStreamsPerTask = 100
    public init() {}
}

/// `locks.*`.
public struct LocksConfig: Sendable, Equatable {
    public var timeoutSeconds = 10.0
    public init() {}
}

/// `cleanup.*`.
public struct CleanupConfig: Sendable, Equatable {
    public var tempMaxAgeSeconds = 3600.0
    public init() {}
}
