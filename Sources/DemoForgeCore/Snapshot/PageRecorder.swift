import DemoForgeStore
import DemoForgeSystem
import Foundation
import Synchronization

/// Collects what one page session reports (load, network, console, exceptions, dialogs) and lets the snapshotter
/// wait for conditions on it. Events arrive on the connection's reader thread.
final class PageRecorder: Sendable {
    struct State {
        var loadedAt: Double?
        var inFlight: Set<String> = []
        var requestURLs: [String: String] = [:]
        var lastNetworkActivity = monotonicSeconds()
        var documentStatus: Int?
        var consoleErrors: [SnapshotReport.ConsoleError] = []
        var exceptions: [SnapshotReport.PageException] = []
        var dialogs: [SnapshotReport.Dialog] = []
        var failedRequests: [SnapshotReport.FailedRequest] = []
        var gone: String?
        var generation: UInt64 = 0
    }

    let state = Mutex(State())
    private let waiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]>([:])
    private let nextWaiter = Atomic<UInt64>(0)
    private let connection: CDPConnection
    private let sessionID: String
    private let frameID: String

    init(connection: CDPConnection, sessionID: String, frameID: String) {
        self.connection = connection
        self.sessionID = sessionID
        self.frameID = frameID
    }

    /// Handles one event of this page's session.
    func handle(_ event: CDPEvent) {
        let now = monotonicSeconds()
        let params = event.params
        switch event.method {
        case "Page.javascriptDialogOpening":
            // An open dialog blocks the page (and its load event) until answered: answer at once, from here.
            let type = params[path: "type"]?.stringValue ?? "alert"
            connection.post(
                "Page.handleJavaScriptDialog",
                ["accept": .bool(type == "beforeunload")],
                session: sessionID
            )
            let dialog = SnapshotReport.Dialog(
                type: type,
                message: params[path: "message"]?.stringValue ?? "",
                action: type == "beforeunload" ? "accepted" : "dismissed"
            )
            update { $0.dialogs.append(dialog) }
        case "Page.loadEventFired":
            update { if $0.loadedAt == nil { $0.loadedAt = now } }
        case "Network.requestWillBeSent":
            guard let id = params[path: "requestId"]?.stringValue else { return }
            let url = params[path: "request.url"]?.stringValue ?? ""
            update {
                $0.inFlight.insert(id)
                $0.requestURLs[id] = url
                $0.lastNetworkActivity = now
            }
        case "Network.loadingFinished":
            guard let id = params[path: "requestId"]?.stringValue else { return }
            update {
                $0.inFlight.remove(id)
                $0.lastNetworkActivity = now
            }
        case "Network.loadingFailed":
            guard let id = params[path: "requestId"]?.stringValue else { return }
            let canceled = params[path: "canceled"] == .bool(true)
            let error = params[path: "errorText"]?.stringValue ?? "failed"
            update {
                $0.inFlight.remove(id)
                $0.lastNetworkActivity = now
                if !canceled {
                    $0.failedRequests.append(.init(url: $0.requestURLs[id] ?? "", status: nil, error: error))
                }
            }
        case "Network.responseReceived":
            let status = params[path: "response.status"]?.intValue.map(Int.init)
            let url = params[path: "response.url"]?.stringValue ?? ""
            let isDocument =
                params[path: "type"]?.stringValue == "Document"
                && params[path: "frameId"]?.stringValue == frameID
            update {
                $0.lastNetworkActivity = now
                if isDocument { $0.documentStatus = status }
                if let status, status >= 400 {
                    $0.failedRequests.append(.init(url: url, status: status, error: "HTTP \(status)"))
                }
            }
        case "Runtime.consoleAPICalled":
            guard params[path: "type"]?.stringValue == "error" else { return }
            let args: [JSONValue]
            if case .array(let items) = params[path: "args"] ?? .null { args = items } else { args = [] }
            let text = args.map(PageRecorder.describe).joined(separator: " ")
            let frame = params[path: "stackTrace.callFrames.0"]
            let error = SnapshotReport.ConsoleError(
                source: "console",
                text: text,
                url: frame?[path: "url"]?.stringValue,
                line: frame?[path: "lineNumber"]?.intValue.map { Int($0) + 1 }
            )
            update { $0.consoleErrors.append(error) }
        case "Log.entryAdded":
            // Network entries ("Failed to load resource ...") repeat what failedRequests records, plus the
            // browser's own favicon probe: leave them out so that consoleErrors is what the page's code said.
            guard params[path: "entry.level"]?.stringValue == "error",
                params[path: "entry.source"]?.stringValue != "network"
            else { return }
            let error = SnapshotReport.ConsoleError(
                source: params[path: "entry.source"]?.stringValue ?? "other",
                text: params[path: "entry.text"]?.stringValue ?? "",
                url: params[path: "entry.url"]?.stringValue,
                line: params[path: "entry.lineNumber"]?.intValue.map { Int($0) + 1 }
            )
            update { $0.consoleErrors.append(error) }
        case "Runtime.exceptionThrown":
            let details = params[path: "exceptionDetails"] ?? [:]
            let message =
                details[path: "exception.description"]?.stringValue
                ?? details[path: "text"]?.stringValue ?? "exception"
            let exception = SnapshotReport.PageException(
                message: message,
                url: details[path: "url"]?.stringValue,
                line: details[path: "lineNumber"]?.intValue.map { Int($0) + 1 },
                column: details[path: "columnNumber"]?.intValue.map { Int($0) + 1 }
            )
            update { $0.exceptions.append(exception) }
        case CDPConnection.closedEvent:
            update { $0.gone = "the browser connection was lost (\(params[path: "reason"]?.stringValue ?? ""))" }
        case "Inspector.targetCrashed":
            update { $0.gone = "the page crashed" }
        case "Inspector.detached":
            update { $0.gone = "the page was detached (\(params[path: "reason"]?.stringValue ?? "unknown"))" }
        default:
            return
        }
    }

    /// A console argument as text: strings as they are, other values by their description.
    static func describe(_ argument: JSONValue) -> String {
        if let text = argument[path: "value"]?.stringValue { return text }
        if let description = argument[path: "description"]?.stringValue { return description }
        if let value = argument[path: "value"] { return value.compact() }
        return argument[path: "type"]?.stringValue ?? ""
    }

    private func update(_ body: (inout State) -> Void) {
        state.withLock {
            body(&$0)
            $0.generation += 1
        }
        let woken = waiters.withLock { table -> [CheckedContinuation<Void, Never>] in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Waits until `check` returns `.done`, re-checking on every event and at the time `check` asks for.
    ///
    /// - Parameter check: `.done`, or `.recheck(after:)` seconds (also re-checked at the next event).
    /// - Throws: `CancellationError` when the calling task is cancelled (the snapshot's deadline cancels it).
    func wait(_ check: (State, Double) -> Check) async throws {
        while true {
            try Task.checkCancellation()
            let (snapshot, generation) = state.withLock { ($0, $0.generation) }
            switch check(snapshot, monotonicSeconds()) {
            case .done: return
            case .recheck(let after): await waitForChange(since: generation, atMost: after)
            }
        }
    }

    /// The answer of a wait condition.
    enum Check {
        case done
        case recheck(after: Double)
    }

    private func waitForChange(since generation: UInt64, atMost seconds: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.changed(since: generation) }
            group.addTask { try? await Task.sleep(for: .seconds(max(seconds, 0.001))) }
            await group.next()
            group.cancelAll()
        }
    }

    private func changed(since generation: UInt64) async {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = waiters.withLock { table -> Bool in
                    if state.withLock({ $0.generation }) != generation || Task.isCancelled { return true }
                    table[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = waiters.withLock { $0.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
