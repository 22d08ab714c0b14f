import CLibevent
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The evhttp server and every request, connection, stream and timer it owns.
///
/// - Important: apart from `init` (which runs before the loop thread starts) and the `StreamSink` methods
///   (which only post to the loop), every method and property here is for the loop thread alone.
final class ServerCore: @unchecked Sendable {
    enum Phase {
        case running, draining, stopped
    }

    let loop: EventLoop
    let config: HTTPServerConfiguration
    let router: Router
    let metrics: HTTPMetrics
    let tokenCheck: TokenCheck?
    let exited = ExitSignal()
    /// The port actually bound.
    private(set) var boundPort = 0

    var http: OpaquePointer?
    var bound: OpaquePointer?
    var phase = Phase.running
    var nextID: UInt64 = 0
    var inFlight: [UInt64: (req: OpaquePointer, method: HTTPMethod)] = [:]
    var streams: [UInt64: StreamState] = [:]
    var keyCounts: [String: Int] = [:]
    var drainRemaining = 0
    var drainTimer: OpaquePointer?
    var acceptResumeTimer: OpaquePointer?
    var acceptPaused = false

    init(config: HTTPServerConfiguration, router: Router, metrics: HTTPMetrics) throws(HTTPServerError) {
        self.config = config
        self.router = router
        self.metrics = metrics
        self.tokenCheck = config.token.map { TokenCheck(token: Array($0.utf8)) }
        self.loop = try EventLoop()
        do {
            try setUp()
        } catch {
            discardUnstarted()
            throw error
        }
    }

    private func setUp() throws(HTTPServerError) {
        guard let http = evhttp_new(loop.base) else {
            throw HTTPServerError(code: .libevent, message: "libevent: evhttp_new failed")
        }
        self.http = http
        let onRequest: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { req, arg in
            guard let req, let arg else { return }
            Unmanaged<ServerCore>.fromOpaque(arg).takeUnretainedValue().handle(req)
        }
        // The core outlives `http` (freed in completeShutdown), so an unretained pointer is safe.
        evhttp_set_gencb(http, onRequest, Unmanaged.passUnretained(self).toOpaque())
        // Every method reaches the router, which answers 405 as JSON.
        evhttp_set_allowed_methods(http, UInt16(0x1FF))
        // evhttp answers bodies over its own limit with an HTML 413; keep that limit well above ours so that
        // the common case gets the JSON 413 from `handle`.
        evhttp_set_max_body_size(http, max(config.maxBodyBytes * 8, 8 << 20))
        // evhttp's default is unlimited header bytes per request.
        evhttp_set_max_headers_size(http, 64 << 10)
        let timeout = max(config.connectionTimeoutSeconds, config.heartbeatSeconds * 3)
        evhttp_set_timeout(http, Int32(timeout.rounded(.up)))

        let flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC
        let base = loop.base
        let backlog = Int32(config.backlog)
        let listener = try BindAddress.withSockaddr(host: config.host, port: config.port) { addr, len in
            evconnlistener_new_bind(base, nil, nil, UInt32(flags), backlog, addr, Int32(len))
        }
        guard let listener else {
            let reason = String(cString: strerror(errno))
            throw HTTPServerError(
                code: .bindFailed,
                message: "cannot listen on server.host:server.port \(config.host):\(config.port): \(reason)")
        }
        guard let bound = evhttp_bind_listener(http, listener) else {
            evconnlistener_free(listener)
            throw HTTPServerError(code: .libevent, message: "libevent: evhttp_bind_listener failed")
        }
        self.bound = bound
        installAcceptErrorHandling(listener, http: http)
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = evconnlistener_get_fd(listener)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        if rc == 0 {
            if Int32(storage.ss_family) == AF_INET6 {
                boundPort = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin6_port))
                    }
                }
            } else {
                boundPort = withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin_port))
                    }
                }
            }
        }
    }

    /// Frees what `init` set up when the loop never ran (a failed start).
    private func discardUnstarted() {
        removeAcceptErrorHandling()
        if let http { evhttp_free(http) }
        http = nil
        bound = nil
        loop.discardUnstarted()
    }

    // MARK: - Requests

    func handle(_ req: OpaquePointer) {
        guard phase == .running else {
            sendError(req, HTTPError(status: 503, code: .shuttingDown, message: "the server is shutting down"))
            return
        }
        let headers = readHeaders(req)
        guard let method = methodOf(req) else {
            sendError(req, HTTPError(status: 405, code: .methodNotAllowed, message: "method not supported"))
            return
        }
        let input = evhttp_request_get_input_buffer(req)
        let length = input.map { evbuffer_get_length($0) } ?? 0
        guard length <= config.maxBodyBytes else {
            let error = HTTPError(
                status: 413, code: .payloadTooLarge,
                message: "request body of \(length) bytes is over the limit of \(config.maxBodyBytes) bytes")
            sendError(req, error)
            return
        }
        // evhttp calls back without a URI after some connection errors and expects a reply.
        guard let uri = evhttp_request_get_uri(req) else {
            sendError(req, HTTPError.badRequest("malformed request"))
            return
        }
        let target = String(cString: uri)
        let parsed: (path: String, segments: [String], query: [(name: String, value: String)])
        do {
            parsed = try PercentDecoding.parseTarget(target)
        } catch {
            sendError(req, error)
            return
        }
        // The token is checked before anything else is looked at, except for the dashboard's own files: the
        // page must load in order to ask for the token.
        if let tokenCheck, !tokenCheck.allows(headers), !router.isPublic(method, parsed.segments) {
            let error = HTTPError(
                status: 401, code: .unauthorized,
                message: "missing or wrong token: send 'Authorization: Bearer <server.token>'")
            sendError(req, error, extra: ["WWW-Authenticate": "Bearer"])
            return
        }
        let handler: HTTPHandler
        let parameters: [String: String]
        switch router.match(method, parsed.segments) {
        case .notFound:
            sendError(req, HTTPError.notFound("no route for \(method.rawValue) \(parsed.path)"))
            return
        case .methodNotAllowed(let allowed):
            let list = allowed.map(\.rawValue).joined(separator: ", ")
            let error = HTTPError(
                status: 405, code: .methodNotAllowed,
                message: "\(method.rawValue) is not allowed on \(parsed.path) (allowed: \(list))")
            sendError(req, error, extra: ["Allow": list])
            return
        case .found(let h, let p):
            handler = h
            parameters = p
        }
        var body = [UInt8](repeating: 0, count: length)
        if length > 0, let input {
            _ = body.withUnsafeMutableBytes { evbuffer_copyout(input, $0.baseAddress, length) }
        }
        let request = HTTPRequest(
            method: method, path: parsed.path, segments: parsed.segments, query: parsed.query, headers: headers,
            body: body, parameters: parameters)
        nextID &+= 1
        let id = nextID
        inFlight[id] = (req, method)
        metrics.inFlightValue.add(1, ordering: .relaxed)
        let log = config.log
        Task { [self] in
            let response: HTTPResponse
            do {
                response = try await handler(request)
            } catch let error as HTTPError {
                response = .error(error)
            } catch {
                log("\(request.method.rawValue) \(request.path) failed: \(error)")
                response = .error(
                    HTTPError(status: 500, code: .internalError, message: "internal error; see the server log"))
            }
            loop.post { [self] in complete(id, response) }
        }
    }

    private func complete(_ id: UInt64, _ response: HTTPResponse) {
        // Absent when shutdown already answered it.
        guard let (req, method) = inFlight.removeValue(forKey: id) else { return }
        metrics.inFlightValue.subtract(1, ordering: .relaxed)
        switch response.body {
        case .bytes(let bytes):
            send(req, status: response.status, headers: response.headers, body: bytes)
        case .eventStream where method == .head:
            send(
                req, status: 200, headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"], body: [])
        case .eventStream(let key, let producer):
            startStream(req, headers: response.headers, key: key, producer: producer)
        }
    }

    func send(_ req: OpaquePointer, status: Int, headers: HTTPHeaders, body: [UInt8]) {
        if let out = evhttp_request_get_output_headers(req) {
            for field in headers { evhttp_add_header(out, field.name, field.value) }
        }
        let buffer = evbuffer_new()
        if let buffer, !body.isEmpty {
            _ = body.withUnsafeBytes { evbuffer_add(buffer, $0.baseAddress, $0.count) }
        }
        // With the peer gone (request detached) this frees the request instead of sending.
        evhttp_send_reply(req, Int32(status), ReasonPhrase.of(status), buffer)
        if let buffer { evbuffer_free(buffer) }
        metrics.record(status: status)
    }

    func sendError(_ req: OpaquePointer, _ error: HTTPError, extra: HTTPHeaders = HTTPHeaders()) {
        var headers = extra
        headers.replace("Content-Type", "application/json")
        send(req, status: error.status, headers: headers, body: error.jsonBody)
    }

    private func readHeaders(_ req: OpaquePointer) -> HTTPHeaders {
        var headers = HTTPHeaders()
        guard let list = evhttp_request_get_input_headers(req) else { return headers }
        var entry = list.pointee.tqh_first
        while let kv = entry {
            if let key = kv.pointee.key, let value = kv.pointee.value {
                headers.add(String(cString: key), String(cString: value))
            }
            entry = kv.pointee.next.tqe_next
        }
        return headers
    }

    private func methodOf(_ req: OpaquePointer) -> HTTPMethod? {
        switch evhttp_request_get_command(req).rawValue {
        case EVHTTP_REQ_GET.rawValue: .get
        case EVHTTP_REQ_POST.rawValue: .post
        case EVHTTP_REQ_HEAD.rawValue: .head
        case EVHTTP_REQ_PUT.rawValue: .put
        case EVHTTP_REQ_DELETE.rawValue: .delete
        case EVHTTP_REQ_OPTIONS.rawValue: .options
        case EVHTTP_REQ_PATCH.rawValue: .patch
        default: nil
        }
    }
}

/// A one-shot "the loop thread has exited" signal.
final class ExitSignal: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.done = true
            let w = s.waiters
            s.waiters = []
            return w
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }
}
