import DemoForgeCore
import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

@Suite struct ContextStoreTests {
    @Test func createReadUpdateBumpsVersion() async throws {
        let tmp = try TemporaryWorkspace("ctx")
        defer { tmp.remove() }
        let store = ContextStore(workspace: tmp.workspace)
        try await store.create(slug: "acme", brief: ["name": "Acme Plumbing"])
        let updated = try await store.update("acme") { $0.set(path: "results.build.state", to: "done") }
        #expect(updated[path: "version"] == .int(2))
        let read = try await store.read("acme")
        #expect(read[path: "results.build.state"] == .string("done"))
        #expect(read[path: "client.name"] == .string("Acme Plumbing"))
        #expect(store.list() == ["acme"])
    }

    @Test func staleCompareAndSwapIsAConflictAndChangesNothing() async throws {
        let tmp = try TemporaryWorkspace("ctx-cas")
        defer { tmp.remove() }
        let store = ContextStore(workspace: tmp.workspace)
        try await store.create(slug: "acme", brief: ["name": "Acme"])
        try await store.update("acme", ifVersion: 1) { $0.set(path: "a", to: 1) }
        let before = try Data(contentsOf: tmp.workspace.contextFile("acme"))
        await #expect {
            try await store.update("acme", ifVersion: 1) { $0.set(path: "a", to: 2) }
        } throws: { error in
            (error as? StoreError)?.code == .conflict
                && "\(error)" == "Context of \"acme\" is at version 2, not 1: it changed since it was read; nothing was written"
        }
        #expect(try Data(contentsOf: tmp.workspace.contextFile("acme")) == before)
    }

    @Test func newerSchemaIsRefusedAndTheFileIsUnchanged() async throws {
        let tmp = try TemporaryWorkspace("ctx-schema")
        defer { tmp.remove() }
        let store = ContextStore(workspace: tmp.workspace)
        try await store.create(slug: "acme", brief: ["name": "Acme"])
        let file = tmp.workspace.contextFile("acme")
        let text = #"{"schemaVersion": 99, "version": 7, "client": {"name": "Acme"}}"#
        try Data(text.utf8).write(to: file)
        for attempt in 0..<2 {
            await #expect {
                if attempt == 0 {
                    _ = try await store.read("acme")
                } else {
                    try await store.update("acme") { $0.set(path: "x", to: 1) }
                }
            } throws: { error in
                (error as? StoreError)?.code == .schemaTooNew
                    && "\(error)"
                        == "\(file.path) has schemaVersion 99, newer than this demoforge understands (1); upgrade demoforge. The file was not changed"
            }
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == text)
    }

    @Test func corruptContextIsReportedWithLineAndColumnAndNeverOverwritten() async throws {
        let tmp = try TemporaryWorkspace("ctx-corrupt")
        defer { tmp.remove() }
        let store = ContextStore(workspace: tmp.workspace)
        try await store.create(slug: "acme", brief: ["name": "Acme"])
        let file = tmp.workspace.contextFile("acme")
        let text = "{\n  \"schemaVersion\": 1,\n  \"version\": 3,\n  \"client\": {\"name\": \"Ac"
        try Data(text.utf8).write(to: file)
        await #expect {
            try await store.update("acme") { $0.set(path: "x", to: 1) }
        } throws: { error in
            (error as? StoreError)?.code == .corrupt
                && "\(error)" == "\(file.path) is not valid JSON: Unterminated string at line 4, column 25"
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == text)
    }

    @Test func invalidSlugsAndBriefsAreRefused() async throws {
        let tmp = try TemporaryWorkspace("ctx-bad")
        defer { tmp.remove() }
        let store = ContextStore(workspace: tmp.workspace)
        for slug in ["../etc", "Acme", "-acme", "", String(repeating: "a", count: 64), "a/b"] {
            await #expect(throws: StoreError.self) { try await store.create(slug: slug, brief: ["name": "X"]) }
        }
        await #expect {
            try await store.create(slug: "acme", brief: ["tagline": "no name"])
        } throws: { error in
            "\(error)" == "brief: the brief has no \"name\"; allowed: a non-empty string"
        }
        await #expect {
            try await store.create(slug: "acme", brief: ["name": 5])
        } throws: { error in
            "\(error)" == "brief: name = 5 is not allowed; allowed: a non-empty string"
        }
        try await store.create(slug: "acme", brief: ["name": "Acme"])
        await #expect {
            try await store.create(slug: "acme", brief: ["name": "Acme"])
        } throws: { error in
            (error as? StoreError)?.code == .exists
        }
        #expect(Identifier.isValidSlug(String(repeating: "a", count: 63)))
    }
}
