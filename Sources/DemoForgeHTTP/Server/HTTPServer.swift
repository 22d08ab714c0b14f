#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 server with Server-Sent Events on libevent's `evhttp`, run by one event-loop thread.
///
/// ```swift
/// var router = Router()
/// router.get("/api/health") { _ in .json(text: "{\"status\":\"ok\"}") }
/// let server = HTTPServer(configuration: config, router: router)
/// let port = try await server.start()   // listening when this returns
/// ...
/// await server.shutdown()                // streams end cleanly, loop thread joined
/// ```
public actor HTTPServer {
    enum State {
        case idle
        case running(ServerCore)
        case stopping(ServerCore)
        case stopped
    }

    /// The server's counters (streams, timers, events, responses by status).
    public nonisolated let metrics: HTTPMetrics
    /// The configuration it was created with.
    public nonisolated let configuration: HTTPServerConfiguration
    private let router: Router
    private var state = State.idle
    /// The port actually bound, once started.
    public private(set) var port: Int?

    /// Creates a server; nothing is bound until ``start()``.
    ///
    /// - Parameters:
    ///   - metrics: pass your own to let route handlers (health, `/metrics`) read the counters of the server
    ///     they are registered on.
    public init(configuration: HTTPServerConfiguration, router: Router, metrics: HTTPMetrics = HTTPMetrics()) {
        self.configuration = configuration
        self.router = router
        self.metrics = metrics
    }

    /// Validates the configuration, binds and starts the loop thread. Returns the bound port; the socket
    /// is listening when this returns.
    ///
    /// - Throws: ``HTTPServerError`` `tokenRequired` for a non-loopback host without `server.token`,
    ///   `bindFailed`, `badHost`, `badConfiguration`, `wrongState`.
    @discardableResult
    public func start() throws(HTTPServerError) -> Int {
        guard case .idle = state else {
            throw HTTPServerError(code: .wrongState, message: "HTTP server already started")
        }
        try HTTPServer.validate(configuration)
        // A write to a closed socket must be an error return, never a process-killing signal.
        signal(SIGPIPE, SIG_IGN)
        let core = try ServerCore(config: configuration, router: router, metrics: metrics)
        let exited = core.exited
        core.loop.start { exited.fire() }
        state = .running(core)
        port = core.boundPort
        return core.boundPort
    }

    /// Stops accepting, ends every open stream cleanly (clients see the end of the response), frees every
    /// connection and timer, and returns once the loop thread has exited. Safe to call more than once.
    public func shutdown() async {
        switch state {
        case .idle:
            state = .stopped
        case .running(let core):
            state = .stopping(core)
            core.loop.post { core.beginShutdown() }
            await core.exited.wait()
            if case .stopping = state { state = .stopped }
        case .stopping(let core):
            await core.exited.wait()
        case .stopped:
            break
        }
    }

    /// Test hook: makes the server react as if accept() had failed with EMFILE (accepting pauses briefly).
    func simulateAcceptFailure() async {
        guard case .running(let core) = state else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let posted = core.loop.post {
                core.simulateAcceptFailure()
                continuation.resume()
            }
            if !posted { continuation.resume() }
        }
    }

    /// The `http://host:port` base URL once started.
    public var baseURL: String? {
        guard let port else { return nil }
        let host =
            configuration.host.contains(":") && !configuration.host.hasPrefix("[")
            ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(port)"
    }

    static func validate(_ config: HTTPServerConfiguration) throws(HTTPServerError) {
        if !BindAddress.isLoopback(config.host) && (config.token ?? "").isEmpty {
            throw HTTPServerError(
                code: .tokenRequired,
                message: "refusing to listen on non-loopback host '\(config.host)' without server.token: set "
                    + "server.token in demoforge.json (clients then send 'Authorization: Bearer <token>') or bind "
                    + "127.0.0.1")
        }
        func check(_ ok: Bool, _ key: String, _ value: Any, _ allowed: String) throws(HTTPServerError) {
            if !ok {
                throw HTTPServerError(
                    code: .badConfiguration, message: "\(key) is \(value); allowed: \(allowed)")
            }
        }
        try check((0...65535).contains(config.port), "server.port", config.port, "0...65535")
        try check(config.heartbeatSeconds > 0, "sse.heartbeatSeconds", config.heartbeatSeconds, "> 0")
        try check(config.maxStreams > 0, "sse.maxStreams", config.maxStreams, "> 0")
        try check(config.maxStreamsPerKey > 0, "sse.maxStreamsPerTask", config.maxStreamsPerKey, "> 0")
        try check(config.maxBodyBytes > 0, "maxBodyBytes", config.maxBodyBytes, "> 0")
        try check(config.streamOutputCapBytes > 0, "streamOutputCapBytes", config.streamOutputCapBytes, "> 0")
    }
}
