import DemoForgeStore
import DemoForgeTesting
import Foundation
import Testing

@Suite struct TempSweeperTests {
    @Test func recognisesOnlyOurPattern() {
        #expect(TempSweeper.ownerPid(ofTempName: "demo.context.json.tmp.1234.k3j9x") == 1234)
        #expect(TempSweeper.ownerPid(ofTempName: "status.json.tmp.99.a") == 99)
        #expect(TempSweeper.ownerPid(ofTempName: "demo.context.json.bak") == nil)
        #expect(TempSweeper.ownerPid(ofTempName: "demo.context.json.tmp.abc") == nil)
        #expect(TempSweeper.ownerPid(ofTempName: "demo.context.json.tmp.12x.abc") == nil)
        #expect(TempSweeper.ownerPid(ofTempName: ".tmp.12.abc") == nil)
        #expect(TempSweeper.ownerPid(ofTempName: "x.tmp.12.") == nil)
    }

    @Test func removesDeadOwnersAndOldFilesOnly() throws {
        let folder = TemporaryFolder("sweep")
        defer { folder.remove() }
        let deadPid = try exitedChildPid()
        let livePid = getpid()
        let names = [
            "dead": "demo.context.json.tmp.\(deadPid).aaaa",
            "live": "demo.context.json.tmp.\(livePid).bbbb",
            "liveOld": "status.json.tmp.\(livePid).cccc",
            "malformedOld": "demo.context.json.tmp.notapid",
            "bak": "demo.context.json.bak",
        ]
        for name in names.values {
            try Data("{}".utf8).write(to: folder.url.appendingPathComponent(name))
        }
        let twoHoursAgo = Date().addingTimeInterval(-7200)
        for key in ["liveOld", "malformedOld", "bak"] {
            try FileManager.default.setAttributes(
                [.modificationDate: twoHoursAgo], ofItemAtPath: folder.url.appendingPathComponent(names[key]!).path)
        }
        let removed = TempSweeper(maxAgeSeconds: 3600).sweep(folders: [folder.url]).map {
            URL(fileURLWithPath: $0).lastPathComponent
        }
        #expect(Set(removed) == [names["dead"]!, names["liveOld"]!])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(left == [names["live"]!, names["malformedOld"]!, names["bak"]!])
    }
}

/// The pid of a child that has exited and been reaped: a pid with no process.
func exitedChildPid() throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}
