import CLibevent
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// evhttp → its core, for the accept-error callback: libevent passes that callback the listener's user data,
/// which `evhttp_bind_listener` fixes to the evhttp itself.
private let acceptOwners = Mutex<[UInt: Unmanaged<ServerCore>]>([:])

extension ServerCore {
    /// How long accepting pauses after an accept error such as EMFILE.
    static let acceptPauseSeconds = 0.1

    /// Installs the accept-error handling: without it, libevent's level-triggered listener spins at full CPU
    /// while the process is out of descriptors (EMFILE), logging on every turn.
    func installAcceptErrorHandling(_ listener: OpaquePointer, http: OpaquePointer) {
        acceptOwners.withLock { $0[UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(http)))] = .passUnretained(self) }
        let onError: evconnlistener_errorcb = { listener, arg in
            guard let listener, let arg else { return }
            let key = UInt(bitPattern: arg)
            let errorNumber = errno
            acceptOwners.withLock { $0[key] }?.takeUnretainedValue().pauseAccepting(listener, errno: errorNumber)
        }
        evconnlistener_set_error_cb(listener, onError)
        let onResume: event_callback_fn = { _, _, arg in
            guard let arg else { return }
            Unmanaged<ServerCore>.fromOpaque(arg).takeUnretainedValue().resumeAccepting()
        }
        acceptResumeTimer = event_new(loop.base, -1, 0, onResume, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Stops accepting for ``acceptPauseSeconds`` (loop thread).
    func pauseAccepting(_ listener: OpaquePointer, errno errorNumber: Int32) {
        evconnlistener_disable(listener)
        metrics.acceptPausesValue.add(1, ordering: .relaxed)
        if !acceptPaused {
            config.log("accept failed: \(String(cString: strerror(errorNumber))); pausing accept for 100 ms")
        }
        acceptPaused = true
        if let acceptResumeTimer {
            var wait = timeval(seconds: ServerCore.acceptPauseSeconds)
            event_add(acceptResumeTimer, &wait)
        }
    }

    /// Accepts again unless shutdown has begun (loop thread).
    func resumeAccepting() {
        acceptPaused = false
        guard phase == .running, let bound, let listener = evhttp_bound_socket_get_listener(bound) else { return }
        evconnlistener_enable(listener)
    }

    /// Removes the accept-error handling (before the listener is freed).
    func removeAcceptErrorHandling() {
        if let http {
            acceptOwners.withLock {
                _ = $0.removeValue(forKey: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(http))))
            }
        }
        if let acceptResumeTimer {
            event_del(acceptResumeTimer)
            event_free(acceptResumeTimer)
            self.acceptResumeTimer = nil
        }
    }
}

extension ServerCore {
    /// Behaves as if accept() had just failed with EMFILE (loop thread; for tests).
    func simulateAcceptFailure() {
        guard let bound, let listener = evhttp_bound_socket_get_listener(bound) else { return }
        pauseAccepting(listener, errno: EMFILE)
    }
}
