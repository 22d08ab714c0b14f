import CDemoForgeShims
import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One DevTools event: method, params and the flattened session it belongs to (nil for the browser itself).
struct CDPEvent: Sendable {
    let method: String
    let params: JSONValue
    let sessionID: String?
}

/// The DevTools protocol over the browser's pipe: NUL-terminated JSON messages, commands matched to replies by id.
///
/// A dedicated reader thread polls the event descriptor (and a wake-up pipe for shutdown), so no cooperative
/// thread ever blocks on the browser. Event handlers run on that thread and must be quick.
final class CDPConnection: Sendable {
    private struct State {
        var nextID = 1
        var pending: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
        var handlers: [String: @Sendable (CDPEvent) -> Void] = [:]
        var failure: SnapshotError?
    }

    /// Synthetic event sent to every handler when the connection ends.
    static let closedEvent = "DemoForge.connectionClosed"

    private let commandFD: Int32
    private let eventFD: Int32
    private let wake: (read: Int32, write: Int32)
    private let state = Mutex(State())
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let readerDone = Atomic<Bool>(false)

    /// Wraps the parent's ends of the pipes (both non-blocking); call ``start()`` to begin reading.
    init(commandFD: Int32, eventFD: Int32) throws(SnapshotError) {
        var fds: [Int32] = [-1, -1]
        guard df_pipe2_cloexec(&fds, 1) == 0 else {
            throw SnapshotError(.launchFailed, "pipe2 failed: \(errnoText())")
        }
        self.commandFD = commandFD
        self.eventFD = eventFD
        wake = (fds[0], fds[1])
    }

    /// Starts the reader thread.
    func start() {
        let thread = Thread { [self] in readLoop() }
        thread.name = "demoforge-cdp-reader"
        thread.start()
    }

    /// Stops the reader thread and waits for it to leave; pending commands fail with `browserExited`.
    func shutdown() async {
        var one: UInt8 = 1
        _ = Glibc.write(wake.write, &one, 1)
        if !readerDone.load(ordering: .acquiring) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = finished.withLock { slot -> Bool in
                    if readerDone.load(ordering: .acquiring) { return true }
                    slot = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        close(wake.read)
        close(wake.write)
    }

    /// Routes events of `sessionID` (nil: browser-level events) to `handler`.
    func setHandler(session sessionID: String?, _ handler: (@Sendable (CDPEvent) -> Void)?) {
        state.withLock { $0.handlers[sessionID ?? ""] = handler }
    }

    /// Sends a command and waits for its reply's `result`. Cancellation of the calling task fails it at once.
    func send(_ method: String, _ params: JSONValue = [:], session: String? = nil) async throws -> JSONValue {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                let failure = state.withLock { state -> SnapshotError? in
                    if let failure = state.failure { return failure }
                    state.pending[id] = continuation
                    return nil
                }
                if let failure {
                    continuation.resume(throwing: failure)
                    return
                }
                if Task.isCancelled {
                    complete(id, .failure(CancellationError()))
                    return
                }
                do {
                    try write(id: id, method: method, params: params, session: session)
                } catch {
                    complete(id, .failure(error))
                }
            }
        } onCancel: {
            complete(id, .failure(CancellationError()))
        }
    }

    /// Sends a command without waiting for the reply (used from event handlers, e.g. to dismiss a dialog).
    func post(_ method: String, _ params: JSONValue = [:], session: String? = nil) {
        let id = state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try? write(id: id, method: method, params: params, session: session)
    }

    private func complete(_ id: Int, _ result: Result<JSONValue, any Error>) {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id) }
        continuation?.resume(with: result)
    }

    private let writeGate = Mutex<Void>(())

    /// Writes one message. The descriptor is non-blocking: a browser that stops reading its commands (64 KiB of
    /// them unread) is treated as hung rather than blocking the caller.
    private func write(id: Int, method: String, params: JSONValue, session: String?) throws(SnapshotError) {
        var message: JSONValue = ["id": .int(Int64(id)), "method": .string(method), "params": params]
        if let session { message.set(path: "sessionId", to: .string(session)) }
        var bytes = Array(message.compact().utf8)
        bytes.append(0)
        try writeGate.withLock { _ throws(SnapshotError) in
            var offset = 0
            var stalls = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(commandFD, $0.baseAddress! + offset, $0.count - offset) }
                if n > 0 {
                    offset += n
                    continue
                }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN && stalls < 200 {
                    // Partial message already in the pipe: finish it rather than interleave; bounded (~1 s).
                    stalls += 1
                    var pfd = pollfd(fd: commandFD, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&pfd, 1, 5)
                    continue
                }
                if code == EPIPE {
                    throw SnapshotError(
                        .browserExited,
                        "Browser connection lost: the browser closed the DevTools pipe (sending \(method))"
                    )
                }
                throw SnapshotError(.browserExited, "Cannot send \(method) to the browser: \(errnoText(code))")
            }
        }
    }

    private func readLoop() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var reason = "the browser closed the DevTools pipe"
        outer: while true {
            var fds = [
                pollfd(fd: eventFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                reason = "poll failed: \(errnoText())"
                break
            }
            if fds[1].revents != 0 {
                reason = "the DevTools connection was shut down"
                break
            }
            while true {
                let n = chunk.withUnsafeMutableBytes { Glibc.read(eventFD, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.append(contentsOf: chunk[0..<n])
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno == EAGAIN { break }
                break outer  // EOF or error: the browser is gone
            }
            var start = 0
            while let end = buffer[start...].firstIndex(of: 0) {
                dispatch(Data(buffer[start..<end]))
                start = end + 1
            }
            buffer.removeFirst(start)
        }
        let failure = SnapshotError(.browserExited, "Browser connection lost: \(reason)")
        let (pending, handlers) = state.withLock { state in
            state.failure = failure
            defer { state.pending.removeAll() }
            return (Array(state.pending.values), Array(state.handlers.values))
        }
        for continuation in pending { continuation.resume(throwing: failure) }
        // Tell every page, so that waits on page events end at once instead of at the deadline.
        let closed = CDPEvent(method: CDPConnection.closedEvent, params: ["reason": .string(reason)], sessionID: nil)
        for handler in handlers { handler(closed) }
        let waiter = finished.withLock { slot -> CheckedContinuation<Void, Never>? in
            readerDone.store(true, ordering: .releasing)
            defer { slot = nil }
            return slot
        }
        waiter?.resume()
    }

    private func dispatch(_ data: Data) {
        guard let message = try? JSONValue.parse(data) else { return }
        if let id = message[path: "id"]?.intValue {
            if let error = message[path: "error"] {
                let text = error[path: "message"]?.stringValue ?? error.compact()
                complete(Int(id), .failure(SnapshotError(.protocolError, "DevTools error: \(text)")))
            } else {
                complete(Int(id), .success(message[path: "result"] ?? [:]))
            }
            return
        }
        guard let method = message[path: "method"]?.stringValue else { return }
        let session = message[path: "sessionId"]?.stringValue
        let event = CDPEvent(method: method, params: message[path: "params"] ?? [:], sessionID: session)
        let handler = state.withLock { $0.handlers[session ?? ""] }
        handler?(event)
    }
}
