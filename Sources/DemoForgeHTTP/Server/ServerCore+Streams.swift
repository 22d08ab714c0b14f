import CLibevent

#if canImport(Glibc)
    import Glibc
#endif

/// One open SSE response (loop thread only). Retained once for libevent (close callback and timer argument)
/// from `startStream` until `release`.
final class StreamState {
    let id: UInt64
    let req: OpaquePointer
    let conn: OpaquePointer
    let key: String?
    let handle: SSEStream
    unowned let core: ServerCore
    var timer: OpaquePointer?

    init(id: UInt64, req: OpaquePointer, conn: OpaquePointer, key: String?, handle: SSEStream, core: ServerCore) {
        self.id = id
        self.req = req
        self.conn = conn
        self.key = key
        self.handle = handle
        self.core = core
    }
}

extension ServerCore: StreamSink {
    func requestFlush(_ id: UInt64) {
        loop.post { [self] in
            guard let state = streams[id] else { return }
            write(state, state.handle.takePending())
        }
    }

    func requestEnd(_ id: UInt64) {
        loop.post { [self] in
            guard let state = streams[id] else { return }
            write(state, state.handle.takePending())
            // The write may have dropped a slow reader.
            if streams[id] != nil { release(state, .finished) }
        }
    }

    func requestDrop(_ id: UInt64) {
        loop.post { [self] in
            guard let state = streams[id] else { return }
            release(state, .slowReader)
        }
    }

    func countEvent() {
        metrics.eventsSentValue.add(1, ordering: .relaxed)
    }
}

extension ServerCore {
    func startStream(
        _ req: OpaquePointer, headers: HTTPHeaders, key: String?,
        producer: @escaping @Sendable (SSEStream) async -> Void
    ) {
        guard phase == .running else {
            sendError(req, HTTPError(status: 503, code: .shuttingDown, message: "the server is shutting down"))
            return
        }
        if streams.count >= config.maxStreams {
            let error = HTTPError(
                status: 503, code: .tooManyStreams,
                message: "\(streams.count) streams are open, the limit sse.maxStreams is \(config.maxStreams)")
            sendError(req, error)
            return
        }
        if let key, keyCounts[key, default: 0] >= config.maxStreamsPerKey {
            let error = HTTPError(
                status: 503, code: .tooManyStreams,
                message: "'\(key)' has \(keyCounts[key, default: 0]) open streams, the limit sse.maxStreamsPerTask "
                    + "is \(config.maxStreamsPerKey)")
            sendError(req, error)
            return
        }
        guard let conn = evhttp_request_get_connection(req), let bev = evhttp_connection_get_bufferevent(conn)
        else {
            // The peer left while the handler ran: replying frees the detached request.
            send(req, status: 499, headers: HTTPHeaders(), body: [])
            return
        }
        if let out = evhttp_request_get_output_headers(req) {
            for field in headers {
                let name = field.name.lowercased()
                if [
                    "content-type", "content-length", "content-encoding", "cache-control", "connection",
                    "transfer-encoding",
                ].contains(name) {
                    continue
                }
                evhttp_add_header(out, field.name, field.value)
            }
            evhttp_add_header(out, "Content-Type", "text/event-stream")
            evhttp_add_header(out, "Cache-Control", "no-cache")
            evhttp_add_header(out, "X-Accel-Buffering", "no")
            // The connection closes after the stream so that shutdown can count the flushed ends.
            evhttp_add_header(out, "Connection", "close")
        }
        evhttp_send_reply_start(req, 200, "OK")
        metrics.record(status: 200)

        nextID &+= 1
        let id = nextID
        let handle = SSEStream(id: id, key: key, sink: self, pendingCap: config.streamOutputCapBytes * 4)
        let state = StreamState(id: id, req: req, conn: conn, key: key, handle: handle, core: self)
        let context = Unmanaged.passRetained(state).toOpaque()
        evhttp_connection_set_closecb(conn, streamClosedCallback, context)

        // No read timeout on a stream (the peer sends nothing); a write stuck for two heartbeats fails it.
        var writeTimeout = timeval(seconds: config.heartbeatSeconds * 2)
        bufferevent_set_timeouts(bev, nil, &writeTimeout)
        // Data the kernel holds unacknowledged for a heartbeat aborts the connection: a vanished peer is
        // found within two heartbeats even while everything still fits in the socket buffer.
        var userTimeout = UInt32(max(1000, config.heartbeatSeconds * 1000))
        let fd = bufferevent_getfd(bev)
        if fd >= 0 {
            _ = setsockopt(fd, Int32(IPPROTO_TCP), tcpUserTimeout, &userTimeout, 4)
        }

        if let timer = event_new(loop.base, -1, Int16(EV_PERSIST), heartbeatCallback, context) {
            var interval = timeval(seconds: config.heartbeatSeconds)
            event_add(timer, &interval)
            state.timer = timer
            metrics.liveTimersValue.add(1, ordering: .relaxed)
        }
        streams[id] = state
        if let key { keyCounts[key, default: 0] += 1 }
        metrics.activeStreamsValue.add(1, ordering: .relaxed)
        metrics.streamsOpenedValue.add(1, ordering: .relaxed)

        let task = Task {
            await producer(handle)
            handle.finish()
        }
        handle.setProducer(task)
    }

    /// Writes `bytes` as one chunk, then drops the stream when the connection's unsent output passes the cap.
    func write(_ state: StreamState, _ bytes: [UInt8]) {
        if !bytes.isEmpty, let buffer = evbuffer_new() {
            _ = bytes.withUnsafeBytes { evbuffer_add(buffer, $0.baseAddress, $0.count) }
            evhttp_send_reply_chunk(state.req, buffer)
            evbuffer_free(buffer)
        }
        if let bev = evhttp_connection_get_bufferevent(state.conn), let output = bufferevent_get_output(bev),
            evbuffer_get_length(output) > config.streamOutputCapBytes
        {
            release(state, .slowReader)
        }
    }

    func heartbeat(_ state: StreamState) {
        guard streams[state.id] === state else { return }
        var bytes = state.handle.takePending()
        bytes.append(contentsOf: SSEEvent.comment("heartbeat"))
        write(state, bytes)
    }

    /// Ends a stream and frees what it holds; each reason ends the response its own way.
    func release(_ state: StreamState, _ reason: SSECloseReason) {
        withExtendedLifetime(state) {
            guard streams.removeValue(forKey: state.id) != nil else { return }
            if let key = state.key {
                let left = keyCounts[key, default: 1] - 1
                keyCounts[key] = left > 0 ? left : nil
            }
            if let timer = state.timer {
                event_del(timer)
                event_free(timer)
                state.timer = nil
                metrics.liveTimersValue.subtract(1, ordering: .relaxed)
            }
            switch reason {
            case .peerClosed:
                // Called from the close callback: the request is detached and only this call frees it.
                if evhttp_request_get_connection(state.req) == nil { evhttp_send_reply_end(state.req) }
            case .finished:
                // The close callback belongs to the connection: clear it, or it fires for nothing later.
                evhttp_connection_set_closecb(state.conn, nil, nil)
                evhttp_send_reply_end(state.req)
            case .slowReader:
                evhttp_connection_set_closecb(state.conn, nil, nil)
                evhttp_connection_free(state.conn)
                metrics.streamsDroppedSlowValue.add(1, ordering: .relaxed)
            case .shutdown:
                // Count the connection's close (after the final chunk is flushed) to know when to stop.
                drainRemaining += 1
                evhttp_connection_set_closecb(
                    state.conn, drainClosedCallback, Unmanaged.passUnretained(self).toOpaque())
                evhttp_send_reply_end(state.req)
            }
            metrics.activeStreamsValue.subtract(1, ordering: .relaxed)
            metrics.streamsClosedValue.add(1, ordering: .relaxed)
            Unmanaged.passUnretained(state).release()
            state.handle.markClosed(reason)
        }
    }
}

/// `TCP_USER_TIMEOUT` from <netinet/tcp.h>, which Glibc does not import.
private let tcpUserTimeout: Int32 = 18

private let streamClosedCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    guard let arg else { return }
    let state = Unmanaged<StreamState>.fromOpaque(arg).takeUnretainedValue()
    state.core.release(state, .peerClosed)
}

private let heartbeatCallback: event_callback_fn = { _, _, arg in
    guard let arg else { return }
    let state = Unmanaged<StreamState>.fromOpaque(arg).takeUnretainedValue()
    state.core.heartbeat(state)
}

let drainClosedCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, arg in
    guard let arg else { return }
    Unmanaged<ServerCore>.fromOpaque(arg).takeUnretainedValue().drainedOne()
}

extension timeval {
    init(seconds: Double) {
        let whole = seconds.rounded(.down)
        self.init(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }
}
