import DemoForgeStore
import Foundation

extension Configuration {
    /// Parses and validates configuration text. A bad value throws before anything else happens.
    ///
    /// - Parameter file: the name used in messages (`demoforge.json`).
    public static func parse(_ data: Data, file: String = "demoforge.json") throws(ConfigError) -> Configuration {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ConfigError(.malformed, keyPath: "", "\(file) is not valid JSON: \(error)")
        }
        return try decode(root, file: file)
    }

    /// Loads `demoforge.json` from a file; a missing file gives the defaults.
    public static func load(from url: URL) throws(ConfigError) -> Configuration {
        guard FileManager.default.fileExists(atPath: url.path) else { return Configuration() }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError(.unreadable, keyPath: "", "Cannot read \(url.path): \(error.localizedDescription)")
        }
        return try parse(data, file: url.lastPathComponent)
    }

    static func decode(_ root: JSONValue, file: String) throws(ConfigError) -> Configuration {
        var config = Configuration()
        var top = try ObjectReader(root, file: file)
        if var r = try top.object("server") {
            config.server.host = try r.string("host", config.server.host)
            config.server.port = try r.integer("port", config.server.port, in: 1...65535)
            config.server.token = try r.optionalString("token")
            try r.finish()
            if !Self.isLoopback(config.server.host) && config.server.token == nil {
                throw ConfigError(
                    .invalidValue, keyPath: "server.host",
                    "\(file): server.host = \"\(config.server.host)\" is not a loopback address and server.token is not set; allowed: a loopback host (127.0.0.1, ::1, localhost), or set server.token")
            }
        }
        if var r = try top.object("ports") {
            config.ports.from = try r.integer("from", config.ports.from, in: 1...65535)
            config.ports.to = try r.integer("to", config.ports.to, in: 1...65535)
            if config.ports.from > config.ports.to {
                throw ConfigError(
                    .invalidValue, keyPath: "ports.from",
                    "\(file): ports.from = \(config.ports.from) is greater than ports.to = \(config.ports.to); allowed: ports.from <= ports.to"
                )
            }
            try r.finish()
        }
        if var r = try top.object("build") {
            config.build.command = try r.argv("command")
            config.build.outputDir = try r.string("outputDir", config.build.outputDir)
            if config.build.outputDir.hasPrefix("/") || config.build.outputDir.split(separator: "/").contains("..") {
                throw r.invalid("outputDir", .string(config.build.outputDir), "a relative folder inside the site")
            }
            config.build.inactivityTimeoutSeconds = try r.positiveSeconds(
                "inactivityTimeoutSeconds", config.build.inactivityTimeoutSeconds)
            config.build.maxDurationSeconds = try r.positiveSeconds("maxDurationSeconds", config.build.maxDurationSeconds)
            if var retry = try r.object("retry") {
                config.build.retry = try decodeRetry(&retry)
            }
            config.build.progressPattern = try r.string("progressPattern", config.build.progressPattern)
            if (try? NSRegularExpression(pattern: config.build.progressPattern)) == nil {
                throw r.invalid("progressPattern", .string(config.build.progressPattern), "a valid regular expression")
            }
            try r.finish()
        }
        if var r = try top.object("agent") {
            config.agent.command = try r.argv("command")
            config.agent.preset = try r.optionalString("preset")
            if let preset = config.agent.preset, AgentConfig.presets[preset] == nil {
                throw r.invalid(
                    "preset", .string(preset), AgentConfig.presets.keys.sorted().joined(separator: ", ") + ", or null")
            }
            config.agent.inactivityTimeoutSeconds = try r.positiveSeconds(
                "inactivityTimeoutSeconds", config.agent.inactivityTimeoutSeconds)
            config.agent.maxDurationSeconds = try r.positiveSeconds("maxDurationSeconds", config.agent.maxDurationSeconds)
            try r.finish()
        }
        if var r = try top.object("preview") {
            config.preview.command = try r.argv("command")
            config.preview.readyTimeoutSeconds = try r.positiveSeconds(
                "readyTimeoutSeconds", config.preview.readyTimeoutSeconds)
            config.preview.idleTimeoutSeconds = try r.positiveSeconds(
                "idleTimeoutSeconds", config.preview.idleTimeoutSeconds)
            config.preview.stopGraceSeconds = try r.positiveSeconds("stopGraceSeconds", config.preview.stopGraceSeconds)
            try r.finish()
        }
        if var r = try top.object("snapshot") {
            config.snapshot.browser = try r.optionalString("browser")
            config.snapshot.timeoutSeconds = try r.positiveSeconds("timeoutSeconds", config.snapshot.timeoutSeconds)
            if let list = r.raw("viewports") {
                config.snapshot.viewports = try decodeViewports(list, file: file, path: "snapshot.viewports")
            }
            try r.finish()
        }
        if var r = try top.object("sse") {
            config.sse.heartbeatSeconds = try r.positiveSeconds("heartbeatSeconds", config.sse.heartbeatSeconds)
            config.sse.maxStreams = try r.integer("maxStreams", config.sse.maxStreams, in: 1...1_000_000)
            config.sse.maxStreamsPerTask = try r.integer(
                "maxStreamsPerTask", config.sse.maxStreamsPerTask, in: 1...1_000_000)
            try r.finish()
        }
        if var r = try top.object("locks") {
            config.locks.timeoutSeconds = try r.positiveSeconds("timeoutSeconds", config.locks.timeoutSeconds)
            try r.finish()
        }
        if var r = try top.object("cleanup") {
            config.cleanup.tempMaxAgeSeconds = try r.positiveSeconds(
                "tempMaxAgeSeconds", config.cleanup.tempMaxAgeSeconds)
            try r.finish()
        }
        // "$schema"-style comments are not keys of ours either: unknown keys are errors everywhere.
        try top.finish()
        return config
    }

    /// 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    static func decodeRetry(_ r: inout ObjectReader) throws(ConfigError) -> RetryConfig {
        var retry = RetryConfig()
        retry.maxAttempts = try r.integer("maxAttempts", retry.maxAttempts, in: 1...100)
        retry.initialDelaySeconds = try r.positiveSeconds("initialDelaySeconds", retry.initialDelaySeconds)
        retry.multiplier = try r.number("multiplier", retry.multiplier, minimum: 1)
        retry.maxDelaySeconds = try r.positiveSeconds("maxDelaySeconds", retry.maxDelaySeconds)
        try r.finish()
        return retry
    }

    /// Decodes a viewport list (`[{"name", "width", "height", "mobile"?}]`), shared with workflow steps.
    public static func decodeViewports(_ value: JSONValue, file: String, path: String) throws(ConfigError) -> [Viewport] {
        guard case .array(let items) = value, !items.isEmpty else {
            throw ConfigError(
                .wrongType, keyPath: path,
                "\(file): \(path) = \(ObjectReader.show(value)) is not allowed; allowed: a non-empty array of {name, width, height, mobile?}"
            )
        }
        var viewports: [Viewport] = []
        for (index, item) in items.enumerated() {
            var v = try ObjectReader(item, file: file, path: "\(path).\(index)")
            let name = try v.string("name", "")
            if name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
                throw v.invalid("name", .string(name), "letters, digits and '-' (it names the PNG file)")
            }
            let width = try v.integer("width", 0, in: 1...10000)
            let height = try v.integer("height", 0, in: 1...10000)
            if width == 0 || height == 0 {
                throw ConfigError(.invalidValue, keyPath: "\(path).\(index)", "\(file): \(path).\(index) needs width and height")
            }
            let mobile = try v.bool("mobile", width < 600)
            try v.finish()
            viewports.append(Viewport(name: name, width: width, height: height, mobile: mobile))
        }
        return viewports
    }

    /// The effective configuration as JSON, every key present (for `demoforge config`).
    public func asJSON() -> JSONValue {
        func argv(_ value: [String]?) -> JSONValue { value.map { .array($0.map { .string($0) }) } ?? .null }
        func retry(_ r: RetryConfig) -> JSONValue {
            [
                "maxAttempts": .int(Int64(r.maxAttempts)), "initialDelaySeconds": .double(r.initialDelaySeconds),
                "multiplier": .double(r.multiplier), "maxDelaySeconds": .double(r.maxDelaySeconds),
            ]
        }
        return [
            "server": [
                "host": .string(server.host), "port": .int(Int64(server.port)),
                "token": server.token.map { _ in .string("(set)") } ?? .null,
            ],
            "ports": ["from": .int(Int64(ports.from)), "to": .int(Int64(ports.to))],
            "build": [
                "command": argv(build.command), "outputDir": .string(build.outputDir),
                "inactivityTimeoutSeconds": .double(build.inactivityTimeoutSeconds),
                "maxDurationSeconds": .double(build.maxDurationSeconds), "retry": retry(build.retry),
                "progressPattern": .string(build.progressPattern),
            ],
            "agent": [
                "command": argv(agent.command), "preset": agent.preset.map { .string($0) } ?? .null,
                "inactivityTimeoutSeconds": .double(agent.inactivityTimeoutSeconds),
                "maxDurationSeconds": .double(agent.maxDurationSeconds),
            ],
            "preview": [
                "command": argv(preview.command), "readyTimeoutSeconds": .double(preview.readyTimeoutSeconds),
                "idleTimeoutSeconds": .double(preview.idleTimeoutSeconds),
                "stopGraceSeconds": .double(preview.stopGraceSeconds),
            ],
            "snapshot": [
                "browser": snapshot.browser.map { .string($0) } ?? .null,
                "timeoutSeconds": .double(snapshot.timeoutSeconds),
                "viewports": .array(
                    snapshot.viewports.map {
                        [
                            "name": .string($0.name), "width": .int(Int64($0.width)),
                            "height": .int(Int64($0.height)), "mobile": .bool($0.mobile),
                        ]
                    }),
            ],
            "sse": [
                "heartbeatSeconds": .double(sse.heartbeatSeconds), "maxStreams": .int(Int64(sse.maxStreams)),
                "maxStreamsPerTask": .int(Int64(sse.maxStreamsPerTask)),
            ],
            "locks": ["timeoutSeconds": .double(locks.timeoutSeconds)],
            "cleanup": ["tempMaxAgeSeconds": .double(cleanup.tempMaxAgeSeconds)],
        ]
    }
}
