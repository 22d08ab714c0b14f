#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `demoforge-bench [scenario ...] [--quick] [--json]` — see BENCHMARKS.md.
let scenarios: [(String, @Sendable (BenchOptions) async throws -> ScenarioReport)] = [
    ("sse-fanout", SSEFanout.run),
    ("sse-churn", SSEChurn.run),
    ("event-read", EventRead.run),
    ("atomic-write", AtomicWrite.run),
    ("locks", Locks.run),
    ("process", ProcessBench.run),
    ("ports", Ports.run),
    ("http", HTTPBench.run),
]

let arguments = Array(CommandLine.arguments.dropFirst())
signal(SIGPIPE, SIG_IGN)

switch arguments.first {
case "--child-server":
    try await ChildModes.server(root: arguments[1], legacyFollower: arguments.contains("--legacy-follower"))
case "--child-append":
    try await ChildModes.append(root: arguments[1], task: arguments[2], rate: Double(arguments[3])!, seconds: Double(arguments[4])!)
case "--child-rmw":
    try await ChildModes.rmw(root: arguments[1], slug: arguments[2], count: Int(arguments[3])!)
default:
    break
}

var options = BenchOptions()
var selected: [String] = []
for argument in arguments {
    switch argument {
    case "--quick": options.quick = true
    case "--json": options.json = true
    case "--legacy-follower": options.legacyFollower = true
    case let a where a.hasPrefix("--streams="):
        options.streams = a.dropFirst("--streams=".count).split(separator: ",").compactMap { Int($0) }
    case "-h", "--help":
        print("usage: demoforge-bench [\(scenarios.map(\.0).joined(separator: "|"))]... [--quick] [--json] [--streams=N,M] [--legacy-follower]")
        exit(0)
    default:
        guard scenarios.contains(where: { $0.0 == argument }) else {
            FileHandle.standardError.write(Data("demoforge-bench: unknown scenario or option '\(argument)'; scenarios: \(scenarios.map(\.0).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        selected.append(argument)
    }
}
raiseDescriptorLimit()
let chosen = selected.isEmpty ? scenarios : scenarios.filter { selected.contains($0.0) }
var reports: [ScenarioReport] = []
var failed = false
let benchStart = now()
if !options.json {
    print("demoforge-bench \(options.quick ? "--quick " : "")on \(ProcessInfo.processInfo.activeProcessorCount) cores, "
        + "load average \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")")
}
for (name, run) in chosen {
    let start = now()
    do {
        var report = try await run(options)
        report.seconds = now() - start
        reports.append(report)
        if !options.json { print(report.table()) }
    } catch {
        failed = true
        var report = ScenarioReport(name: name)
        report.notes.append("FAILED: \(error)")
        report.seconds = now() - start
        reports.append(report)
        if !options.json { print(report.table()) }
    }
}
if options.json {
    print("{\"quick\":\(options.quick),\"scenarios\":[" + reports.map { $0.json() }.joined(separator: ",") + "],\"seconds\":\(ScenarioReport.jsonNumber(now() - benchStart))}")
} else {
    print(String(format: "total %.1f s", now() - benchStart))
}
exit(failed ? 1 : 0)
