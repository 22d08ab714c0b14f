import Synchronization

/// Why a stream ended.
public enum SSECloseReason: String, Sendable, Equatable {
    /// The producer returned or called ``SSEStream/finish()``: the response ended cleanly.
    case finished
    /// The peer closed the connection, a write failed, or the peer vanished (timeout).
    case peerClosed
    /// The peer did not read and its pending output passed the cap.
    case slowReader
    /// The server shut down (the response ended cleanly).
    case shutdown
}

/// The producer's side of one open SSE response. Thread-safe: `send` from any thread or task.
///
/// Output is buffered here and handed to the event-loop thread in batches; the loop writes it to the
/// connection. Register cleanup with ``onClose(_:)`` or await ``closed()``; the producer task is also
/// cancelled when the stream closes, so a `for await` over a subscription ends by itself.
public final class SSEStream: Sendable {
    struct Inner {
        var pending: [UInt8] = []
        var flushScheduled = false
        var finishing = false
        var closeReason: SSECloseReason?
        var handlers: [@Sendable (SSECloseReason) -> Void] = []
        var waiters: [CheckedContinuation<SSECloseReason, Never>] = []
        var producer: Task<Void, Never>?
    }

    /// The server-wide stream number.
    public let id: UInt64
    /// The key counted for the per-key cap (e.g. a task id), if any.
    public let key: String?
    let inner = Mutex(Inner())
    let sink: any StreamSink
    let pendingCap: Int

    init(id: UInt64, key: String?, sink: any StreamSink, pendingCap: Int) {
        self.id = id
        self.key = key
        self.sink = sink
        self.pendingCap = pendingCap
    }

    /// Queues `event`. Returns false when the stream is closed or finishing (stop producing then).
    @discardableResult
    public func send(_ event: SSEEvent) -> Bool {
        let ok = enqueue(event.encoded)
        if ok { sink.countEvent() }
        return ok
    }

    /// Queues an event built from its parts; see ``send(_:)``.
    @discardableResult
    public func send(id: String? = nil, event: String? = nil, data: String) -> Bool {
        send(SSEEvent(id: id, event: event, data: data))
    }

    /// Queues a comment line (`: text`), ignored by EventSource clients.
    @discardableResult
    public func comment(_ text: String) -> Bool { enqueue(SSEEvent.comment(text)) }

    /// Ends the response cleanly after everything queued so far has been written. Idempotent.
    public func finish() {
        let post = inner.withLock { state -> Bool in
            guard state.closeReason == nil, !state.finishing else { return false }
            state.finishing = true
            return true
        }
        if post { sink.requestEnd(id) }
    }

    /// True once the stream has closed for any reason.
    public var isClosed: Bool { inner.withLock { $0.closeReason != nil } }

    /// Why the stream closed, or nil while it is open.
    public var closeReason: SSECloseReason? { inner.withLock { $0.closeReason } }

    /// Runs `handler` once when the stream closes (at once if it already has). Runs on the event-loop thread:
    /// keep it short (cancel a subscription, release a resource).
    public func onClose(_ handler: @escaping @Sendable (SSECloseReason) -> Void) {
        let already = inner.withLock { state -> SSECloseReason? in
            if let reason = state.closeReason { return reason }
            state.handlers.append(handler)
            return nil
        }
        if let already { handler(already) }
    }

    /// Waits until the stream closes and returns why.
    public func closed() async -> SSECloseReason {
        await withCheckedContinuation { continuation in
            let already = inner.withLock { state -> SSECloseReason? in
                if let reason = state.closeReason { return reason }
                state.waiters.append(continuation)
                return nil
            }
            if let already { continuation.resume(returning: already) }
        }
    }

    // MARK: - Server side

    private func enqueue(_ bytes: [UInt8]) -> Bool {
        enum Outcome { case rejected, queued, schedule, overflow }
        let outcome = inner.withLock { state -> Outcome in
            guard state.closeReason == nil, !state.finishing else { return .rejected }
            state.pending.append(contentsOf: bytes)
            // The loop is far behind this producer: treat like a slow reader rather than grow without bound.
            if state.pending.count > pendingCap { return .overflow }
            if state.flushScheduled { return .queued }
            state.flushScheduled = true
            return .schedule
        }
        switch outcome {
        case .rejected: return false
        case .queued: return true
        case .schedule:
            sink.requestFlush(id)
            return true
        case .overflow:
            sink.requestDrop(id)
            return true
        }
    }

    /// Takes the queued bytes (loop thread).
    func takePending() -> [UInt8] {
        inner.withLock { state in
            state.flushScheduled = false
            let bytes = state.pending
            state.pending = []
            return bytes
        }
    }

    /// Stores the producer task; cancels it at once if the stream already closed.
    func setProducer(_ task: Task<Void, Never>) {
        let closed = inner.withLock { state -> Bool in
            if state.closeReason != nil { return true }
            state.producer = task
            return false
        }
        if closed { task.cancel() }
    }

    /// Marks the stream closed, cancels the producer and runs the close handlers (loop thread).
    func markClosed(_ reason: SSECloseReason) {
        let (handlers, waiters, producer) = inner.withLock { state in
            guard state.closeReason == nil else {
                return (
                    [@Sendable (SSECloseReason) -> Void](), [CheckedContinuation<SSECloseReason, Never>](),
                    Task<Void, Never>?.none
                )
            }
            state.closeReason = reason
            state.pending = []
            let result = (state.handlers, state.waiters, state.producer)
            state.handlers = []
            state.waiters = []
            state.producer = nil
            return result
        }
        producer?.cancel()
        for handler in handlers { handler(reason) }
        for waiter in waiters { waiter.resume(returning: reason) }
    }
}

/// Where a stream hands its work: the server core, which forwards it to the loop thread.
protocol StreamSink: Sendable {
    func requestFlush(_ id: UInt64)
    func requestEnd(_ id: UInt64)
    func requestDrop(_ id: UInt64)
    func countEvent()
}
