import Synchronization

/// Live counters of one server, safe to read from any thread (health and metrics endpoints, tests).
public final class HTTPMetrics: Sendable {
    let activeStreamsValue = Atomic<Int>(0)
    let streamsOpenedValue = Atomic<Int>(0)
    let streamsClosedValue = Atomic<Int>(0)
    let streamsDroppedSlowValue = Atomic<Int>(0)
    let eventsSentValue = Atomic<Int>(0)
    let liveTimersValue = Atomic<Int>(0)
    let inFlightValue = Atomic<Int>(0)
    let acceptPausesValue = Atomic<Int>(0)
    let byStatus = Mutex<[Int: Int]>([:])

    /// Creates zeroed counters.
    public init() {}

    /// Streams open now.
    public var activeStreams: Int { activeStreamsValue.load(ordering: .relaxed) }
    /// Streams opened since start.
    public var streamsOpened: Int { streamsOpenedValue.load(ordering: .relaxed) }
    /// Streams closed since start (any reason).
    public var streamsClosed: Int { streamsClosedValue.load(ordering: .relaxed) }
    /// Streams dropped because the peer did not read (pending output over the cap).
    public var streamsDroppedSlow: Int { streamsDroppedSlowValue.load(ordering: .relaxed) }
    /// Events accepted by ``SSEStream/send(_:)`` since start.
    public var eventsSent: Int { eventsSentValue.load(ordering: .relaxed) }
    /// Per-stream heartbeat timers alive now; 0 when no stream is open.
    public var liveTimers: Int { liveTimersValue.load(ordering: .relaxed) }
    /// Times accepting paused after an accept error (EMFILE: out of descriptors).
    public var acceptPauses: Int { acceptPausesValue.load(ordering: .relaxed) }
    /// Requests whose handler is still running.
    public var requestsInFlight: Int { inFlightValue.load(ordering: .relaxed) }

    /// Completed responses by status code (streams count once, as 200, when they start).
    public var requestsByStatus: [Int: Int] { byStatus.withLock { $0 } }

    func record(status: Int) {
        byStatus.withLock { $0[status, default: 0] += 1 }
    }

    /// Appends this server's metric families (`demoforge_http_*`, `demoforge_sse_*`) to `text`.
    public func render(into text: inout PrometheusText) {
        text.gauge("demoforge_sse_active_streams", help: "Open SSE streams.", value: Double(activeStreams))
        text.counter("demoforge_sse_streams_opened_total", help: "SSE streams opened.", value: Double(streamsOpened))
        text.counter("demoforge_sse_streams_closed_total", help: "SSE streams closed.", value: Double(streamsClosed))
        text.counter(
            "demoforge_sse_streams_dropped_slow_total", help: "SSE streams dropped for not reading.",
            value: Double(streamsDroppedSlow))
        text.counter("demoforge_sse_events_sent_total", help: "SSE events sent.", value: Double(eventsSent))
        text.gauge("demoforge_sse_live_timers", help: "Per-stream heartbeat timers alive.", value: Double(liveTimers))
        let statuses = requestsByStatus.sorted { $0.key < $1.key }
        text.family(
            "demoforge_http_requests_total", help: "HTTP responses by status code.", type: .counter,
            samples: statuses.map { (labels: ["status": String($0.key)], value: Double($0.value)) })
    }
}
