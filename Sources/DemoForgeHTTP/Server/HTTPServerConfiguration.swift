import Foundation

/// Settings of one ``HTTPServer``; every field has a default.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4/IPv6 literal or `localhost`. Non-loopback requires ``token``.
    public var host: String = "127.0.0.1"
    /// Port; 0 picks a free one (read it back from ``HTTPServer/start()``).
    public var port: Int = 4321
    /// `server.token`: when set, every request needs `Authorization: Bearer <token>` or cookie
    /// `demoforge_token=<token>`.
    public var token: String?
    /// Largest accepted request body; larger gets 413 JSON.
    public var maxBodyBytes: Int = 1 << 20
    /// `sse.heartbeatSeconds`: a `: heartbeat` comment on every stream this often.
    public var heartbeatSeconds: Double = 15
    /// `sse.maxStreams`: open streams in total; more → 503 JSON.
    public var maxStreams: Int = 10_000
    /// `sse.maxStreamsPerTask`: open streams per key; more → 503 JSON.
    public var maxStreamsPerKey: Int = 100
    /// A stream whose unsent output passes this many bytes is dropped (slow reader).
    public var streamOutputCapBytes: Int = 1 << 20
    /// Listen backlog.
    public var backlog: Int = 4096
    /// Idle timeout for ordinary connections (evhttp's timeout); raised to 3 heartbeats if lower.
    public var connectionTimeoutSeconds: Double = 60
    /// How long ``HTTPServer/shutdown()`` waits for ended streams to flush before closing everything.
    public var shutdownDrainSeconds: Double = 1.0
    /// Where the server logs (handler failures, shutdown). Defaults to standard error.
    public var log: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(("demoforge http: " + line + "\n").utf8))
    }

    /// Creates the default configuration; change fields as needed.
    public init() {}

    /// Convenience initializer for the fields that come from `demoforge.json`.
    public init(
        host: String, port: Int, token: String? = nil, heartbeatSeconds: Double = 15, maxStreams: Int = 10_000,
        maxStreamsPerKey: Int = 100
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.heartbeatSeconds = heartbeatSeconds
        self.maxStreams = maxStreams
        self.maxStreamsPerKey = maxStreamsPerKey
    }
}
