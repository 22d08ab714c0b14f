import DemoForgeCore
import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

/// The workflow's compare-and-swap transitions with fencing tokens, on a real context file.
@Suite struct WorkflowLedgerTests {
    /// A workspace with client `acme` whose workflow is at step 0 expecting token `t0`.
    private func ledger(_ label: String) async throws -> (TemporaryWorkspace, WorkflowLedger, URL) {
        let tmp = try TemporaryWorkspace(label)
        let contexts = ContextStore(workspace: tmp.workspace)
        try await contexts.create(slug: "acme", brief: ["name": "Acme"])
        try await contexts.update("acme") { document in
            document.set(path: "workflow", to: ["state": "running", "stepIndex": 0, "token": "t0", "steps": [:]])
        }
        return (tmp, WorkflowLedger(contexts: contexts, slug: "acme"), tmp.workspace.contextFile("acme"))
    }

    @Test func completionWithAnOldTokenIsStaleAndChangesNothing() async throws {
        let (tmp, ledger, file) = try await ledger("ledger-stale")
        defer { tmp.remove() }
        let a = try await ledger.begin(index: 0, stepId: "build", expected: "t0")
        #expect(a.attempt == 1)
        let next = try await ledger.complete(index: 0, stepId: "build", token: a.token, state: "done", durationSeconds: 1.5, result: ["n": 1])
        #expect(next != a.token)
        let before = try Data(contentsOf: file)
        await #expect {
            try await ledger.complete(index: 0, stepId: "build", token: a.token, state: "done", durationSeconds: 9, result: ["n": 2])
        } throws: { error in
            "\(error)" == "stale completion of step build ignored: the workflow is at step index 1 with another fencing token"
                && error is WorkflowLedger.Stale
        }
        #expect(try Data(contentsOf: file) == before)
        let document = try AtomicFile.readJSON(file)
        #expect(document[path: "results.build.n"] == .int(1))
        #expect(document[path: "workflow.stepIndex"] == .int(1))
        #expect(document[path: "workflow.token"] == .string(next))
    }

    /// A resumed run starts the step again (a new token): the superseded attempt's late completion is ignored.
    @Test func completionOfASupersededAttemptIsStale() async throws {
        let (tmp, ledger, file) = try await ledger("ledger-superseded")
        defer { tmp.remove() }
        let first = try await ledger.begin(index: 0, stepId: "build", expected: "t0")
        let second = try await ledger.begin(index: 0, stepId: "build", expected: first.token)
        #expect(second.attempt == 2)
        let before = try Data(contentsOf: file)
        await #expect(throws: WorkflowLedger.Stale.self) {
            try await ledger.complete(index: 0, stepId: "build", token: first.token, state: "done", durationSeconds: 1, result: ["from": "first"])
        }
        await #expect(throws: WorkflowLedger.Stale.self) {
            try await ledger.begin(index: 0, stepId: "build", expected: first.token)
        }
        await #expect(throws: WorkflowLedger.Stale.self) {
            try await ledger.finish(state: "failed", index: 0, token: first.token, failedStep: "build", error: "late")
        }
        #expect(try Data(contentsOf: file) == before)
        try await ledger.complete(index: 0, stepId: "build", token: second.token, state: "done", durationSeconds: 1, result: ["from": "second"])
        let document = try AtomicFile.readJSON(file)
        #expect(document[path: "results.build.from"] == .string("second"))
        #expect(document[path: "workflow.steps.build.attempts"] == .int(2))
        #expect(document[path: "workflow.steps.build.state"] == .string("done"))
    }

    /// Eight completions racing with one token: exactly one wins and the step advances once.
    @Test(.timeLimit(.minutes(1))) func racingCompletionsAdvanceTheStepOnce() async throws {
        let (tmp, ledger, file) = try await ledger("ledger-race")
        defer { tmp.remove() }
        let begun = try await ledger.begin(index: 0, stepId: "build", expected: "t0")
        let versionBefore = try AtomicFile.readJSON(file)[path: "version"]?.intValue ?? 0
        let won = await withTaskGroup(of: Int?.self) { group in
            for racer in 0..<8 {
                group.addTask {
                    let completed = try? await ledger.complete(
                        index: 0, stepId: "build", token: begun.token, state: "done", durationSeconds: 1, result: ["racer": .int(Int64(racer))])
                    return completed == nil ? nil : racer
                }
            }
            var winners: [Int] = []
            for await winner in group { if let winner { winners.append(winner) } }
            return winners
        }
        #expect(won.count == 1)
        let document = try AtomicFile.readJSON(file)
        #expect(document[path: "results.build.racer"] == won.first.map { .int(Int64($0)) })
        #expect(document[path: "workflow.stepIndex"] == .int(1))
        #expect(document[path: "version"]?.intValue == versionBefore + 1)
    }

    /// What an agent recorded under `results.<step>` during its step survives the step's completion.
    @Test func completionKeepsWhatTheStepRecordedItself() async throws {
        let (tmp, ledger, file) = try await ledger("ledger-merge")
        defer { tmp.remove() }
        let contexts = ContextStore(workspace: tmp.workspace)
        try await contexts.update("acme") { $0.set(path: "results.content", to: ["state": "skipped", "reason": "no agent (an older run)"]) }
        let begun = try await ledger.begin(index: 0, stepId: "content", expected: "t0")
        // The agent, during its step: `demoforge context set acme results.content.summary=...`.
        try await contexts.update("acme") { $0.set(path: "results.content.summary", to: "rewrote the hero") }
        try await ledger.complete(
            index: 0, stepId: "content", token: begun.token, state: "done", durationSeconds: 1, result: ["state": "done", "lines": 3])
        let document = try AtomicFile.readJSON(file)
        #expect(document[path: "results.content"] == ["state": "done", "lines": 3, "summary": "rewrote the hero"])
    }
}
