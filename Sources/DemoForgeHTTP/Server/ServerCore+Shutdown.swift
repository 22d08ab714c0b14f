import CLibevent

extension ServerCore {
    /// Stops accepting, answers requests still in their handlers with 503, ends every stream cleanly, and
    /// stops the loop once every ended stream's connection has flushed and closed (or the drain time passed).
    func beginShutdown() {
        guard phase == .running else { return }
        phase = .draining
        removeAcceptErrorHandling()
        if let http, let bound {
            evhttp_del_accept_socket(http, bound)
            self.bound = nil
        }
        let pending = inFlight
        inFlight = [:]
        for (_, entry) in pending {
            metrics.inFlightValue.subtract(1, ordering: .relaxed)
            if let conn = evhttp_request_get_connection(entry.req) {
                // Closed after the reply is flushed; the close is counted like a stream's.
                drainRemaining += 1
                evhttp_connection_set_closecb(conn, drainClosedCallback, Unmanaged.passUnretained(self).toOpaque())
            }
            let error = HTTPError(status: 503, code: .shuttingDown, message: "the server is shutting down")
            sendError(entry.req, error, extra: ["Connection": "close"])
        }
        for state in Array(streams.values) {
            write(state, state.handle.takePending())
            if streams[state.id] != nil { release(state, .shutdown) }
        }
        if drainRemaining == 0 {
            completeShutdown()
            return
        }
        let onDeadline: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<ServerCore>.fromOpaque(arg).takeUnretainedValue().completeShutdown()
        }
        if let timer = event_new(loop.base, -1, 0, onDeadline, Unmanaged.passUnretained(self).toOpaque()) {
            var wait = timeval(seconds: config.shutdownDrainSeconds)
            event_add(timer, &wait)
            drainTimer = timer
        }
    }

    /// A connection whose stream shutdown ended has closed.
    func drainedOne() {
        drainRemaining -= 1
        // Called from inside evhttp_connection_free: finish on a later turn of the loop, never in here.
        if drainRemaining == 0 && phase == .draining {
            loop.post { [self] in completeShutdown() }
        }
    }

    func completeShutdown() {
        guard phase == .draining else { return }
        phase = .stopped
        if let drainTimer {
            event_del(drainTimer)
            event_free(drainTimer)
            self.drainTimer = nil
        }
        if let http {
            // Remaining connections (idle keep-alive, slow drains) close here; their close callbacks only count.
            evhttp_free(http)
            self.http = nil
        }
        loop.stop()
    }
}
