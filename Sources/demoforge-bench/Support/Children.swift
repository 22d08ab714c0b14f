import DemoForgeProcess
import Foundation
import Synchronization

/// Helper processes of a scenario, run through the project's own process supervisor (own group, torn down).
final class Child: Sendable {
    let process: SupervisedProcess
    private let box: LinesBox

    private final class LinesBox: Sendable {
        let lines = Mutex<[String]>([])
    }

    private init(process: SupervisedProcess, box: LinesBox) {
        self.process = process
        self.box = box
    }

    var pid: Int32 { process.pid }

    /// Starts `demoforge-bench <arguments>`.
    static func start(_ supervisor: ProcessSupervisor, _ arguments: [String]) async throws -> Child {
        let box = LinesBox()
        let options = SupervisionOptions(terminationGraceSeconds: 1, killConfirmSeconds: 5, retainedLines: 10)
        let process = try await supervisor.start(ProcessSpec([selfExecutable()] + arguments), options: options) { line in
            box.lines.withLock { $0.append(line.text) }
        }
        return Child(process: process, box: box)
    }

    /// Every output line so far.
    var output: [String] { box.lines.withLock { $0 } }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    func line(startingWith prefix: String, timeout: Double = 30) async throws -> String {
        let deadline = now() + timeout
        while now() < deadline {
            if let found = output.first(where: { $0.hasPrefix(prefix) }) { return String(found.dropFirst(prefix.count)) }
            if !process.isRunning, output.first(where: { $0.hasPrefix(prefix) }) == nil {
                throw BenchError("child \(process.argv.dropFirst().joined(separator: " ")) exited without '\(prefix)': "
                    + output.suffix(5).joined(separator: " | "))
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("timed out waiting for '\(prefix)' from child: " + output.suffix(5).joined(separator: " | "))
    }

    /// Stops the child's group and waits for it.
    func stop() async {
        process.terminate()
        _ = await process.wait()
    }
}

/// A bench failure with a message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
