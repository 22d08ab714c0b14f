import DemoForgeStore
import DemoForgeSystem
import Foundation

/// The workflow state inside a client's context (`workflow`), changed only by compare-and-swap transitions
/// under the context's exclusive lock.
///
/// Each step attempt gets a fresh fencing token. A transition names the step index and the token it expects;
/// if another transition got there first (the step moved on, or was started again by a resumed run), the
/// transition changes nothing and reports itself stale. So two racing transitions never advance a step twice,
/// and a late completion of a superseded attempt cannot overwrite the result of the current one.
public struct WorkflowLedger: Sendable {
    public let contexts: ContextStore
    public let slug: String

    public init(contexts: ContextStore, slug: String) {
        self.contexts = contexts
        self.slug = slug
    }

    /// A transition that lost its race.
    public struct Stale: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// Starts an attempt of step `index`: expects the workflow at `index` with token `expected`.
    ///
    /// Clears `results.<stepId>`: what is there at completion was recorded by this attempt (see ``complete``).
    /// - Returns: the new fencing token and the attempt number.
    public func begin(index: Int, stepId: String, expected: String) async throws -> (token: String, attempt: Int) {
        let token = UUID().uuidString.lowercased()
        let now = Timestamp.now()
        let document = try await contexts.update(slug) { document in
            try Self.check(document, index: index, token: expected, what: "start of step \(stepId)")
            let attempt = (document[path: "workflow.steps.\(stepId).attempts"]?.intValue ?? 0) + 1
            document.set(path: "workflow.stepIndex", to: .int(Int64(index)))
            document.set(path: "workflow.stepId", to: .string(stepId))
            document.set(path: "workflow.token", to: .string(token))
            document.set(path: "workflow.attempt", to: .int(attempt))
            document.set(path: "workflow.steps.\(stepId).state", to: "running")
            document.set(path: "workflow.steps.\(stepId).attempts", to: .int(attempt))
            document.set(path: "workflow.steps.\(stepId).startedAt", to: .string(now))
            if case .object(var results)? = document[path: "results"], results[stepId] != nil {
                results[stepId] = nil
                document.set(path: "results", to: .object(results))
            }
        }
        return (token, Int(document[path: "workflow.attempt"]?.intValue ?? 1))
    }

    /// Completes step `index` with `token`: stores `result` under `results.<stepId>` and moves to the next step.
    ///
    /// An object result is merged over what the step recorded there itself during this attempt (an agent's
    /// `demoforge context set SLUG results.<stepId>.summary=...`), its own keys winning.
    /// - Throws: ``Stale`` (changing nothing) when `token` is no longer the current one.
    /// - Returns: the token the next step must expect.
    @discardableResult
    public func complete(
        index: Int, stepId: String, token: String, state: String, durationSeconds: Double, result: JSONValue?
    ) async throws -> String {
        let next = UUID().uuidString.lowercased()
        try await contexts.update(slug) { document in
            try Self.check(document, index: index, token: token, what: "completion of step \(stepId)")
            if var result {
                if case .object(let recorded)? = document[path: "results.\(stepId)"], case .object(let produced) = result {
                    result = .object(recorded.merging(produced) { _, new in new })
                }
                document.set(path: "results.\(stepId)", to: result)
            }
            document.set(path: "workflow.steps.\(stepId).state", to: .string(state))
            document.set(path: "workflow.steps.\(stepId).durationSeconds", to: .double((durationSeconds * 1000).rounded() / 1000))
            document.set(path: "workflow.steps.\(stepId).endedAt", to: .string(Timestamp.now()))
            document.set(path: "workflow.stepIndex", to: .int(Int64(index + 1)))
            document.set(path: "workflow.token", to: .string(next))
        }
        return next
    }

    /// Ends the workflow (`done`, `failed`, `cancelled`) if `token` is still current; records a failed step.
    public func finish(state: String, index: Int, token: String, failedStep: String? = nil, error: String? = nil) async throws {
        try await contexts.update(slug) { document in
            try Self.check(document, index: index, token: token, what: "end of the run")
            document.set(path: "workflow.state", to: .string(state))
            document.set(path: "workflow.endedAt", to: .string(Timestamp.now()))
            if let failedStep { document.set(path: "workflow.steps.\(failedStep).state", to: .string(state == "cancelled" ? "cancelled" : "failed")) }
            document.set(path: "workflow.error", to: error.map { .string($0) } ?? .null)
        }
    }

    static func check(_ document: JSONValue, index: Int, token: String, what: String) throws {
        let currentIndex = document[path: "workflow.stepIndex"]?.intValue
        let currentToken = document[path: "workflow.token"]?.stringValue
        guard currentIndex == Int64(index), currentToken == token else {
            throw Stale(
                message: "stale \(what) ignored: the workflow is at step index \(currentIndex.map(String.init) ?? "none") with another fencing token")
        }
    }
}
