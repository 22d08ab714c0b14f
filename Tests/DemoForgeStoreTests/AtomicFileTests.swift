import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

@Suite struct AtomicFileTests {
    @Test func writesPrettyJSONAndLeavesNoTempFile() throws {
        let folder = TemporaryFolder("atomic")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        try AtomicFile.write(["b": 2, "a": 1], to: file)
        #expect(try String(contentsOf: file, encoding: .utf8) == "{\n  \"a\": 1,\n  \"b\": 2\n}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["doc.json"])
    }

    @Test func concurrentWritersNeverTearTheFile() async throws {
        let folder = TemporaryFolder("atomic-race")
        defer { folder.remove() }
        let file = folder.url.appendingPathComponent("doc.json")
        let big = String(repeating: "x", count: 200_000)
        try AtomicFile.write(["writer": -1, "payload": .string(big)], to: file)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for _ in 0..<25 { try AtomicFile.write(["writer": .int(Int64(writer)), "payload": .string(big)], to: file) }
                }
            }
            group.addTask {
                // A reader never sees a partial document.
                for _ in 0..<200 {
                    let value = try AtomicFile.readJSON(file)
                    #expect(value[path: "payload"] == .string(big))
                }
            }
            try await group.waitForAll()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["doc.json"])
    }

    @Test func readOfMissingFileIsNotFound() {
        let missing = URL(fileURLWithPath: "/tmp/demoforge-no-such-\(UInt32.random(in: 0...UInt32.max)).json")
        #expect {
            try AtomicFile.readJSON(missing)
        } throws: { error in
            (error as? StoreError)?.code == .notFound && "\(error)".contains(missing.path)
        }
    }
}
