import CDemoForgeShims
import DemoForgeSystem
import Foundation
import Testing

@testable import DemoForgeProcess

#if canImport(Glibc)
    import Glibc
#endif

extension ProcessTests {
    @Suite struct Spawning {
        @Test func childRunsInItsOwnSessionWithOnlyStandardDescriptors() async throws {
            let result = try await ProcessSupervisor().run(
                ProcessSpec([
                    "sh", "-c",
                    // No pipeline: a pipeline's own pipes would show up in the shell's table while ls runs.
                    "ls /proc/$$/fd; readlink /proc/$$/fd/0; ps -o pgid= -o sid= -p $$",
                ]))
            #expect(result.succeeded)
            let texts = result.lines.map(\.text)
            #expect(texts.count == 5)
            #expect(Array(texts.prefix(3)) == ["0", "1", "2"])
            #expect(texts.dropFirst(3).first == "/dev/null")
            let ids = texts.last?.split(separator: " ").compactMap { Int32($0) } ?? []
            #expect(ids == [result.pid, result.pid])
        }

        @Test func extraDescriptorIsInheritedAtItsChildNumber() async throws {
            var ends: [Int32] = [-1, -1]
            #expect(df_pipe2_cloexec(&ends, 0) == 0)
            defer { close(ends[0]) }
            let result = try await ProcessSupervisor().run(
                ProcessSpec(
                    ["sh", "-c", "echo hi >&3; ls /proc/$$/fd"], extraDescriptors: [3: ends[1]]
                ))
            close(ends[1])
            #expect(result.succeeded)
            #expect(result.lines.map(\.text) == ["0", "1", "2", "3"])
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = read(ends[0], &buffer, buffer.count)
            #expect(count == 3)
            #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "hi\n")
        }

        @Test func extraDescriptorMappedOntoItsOwnNumberSurvivesExec() async throws {
            // dup2(fd, fd) would keep O_CLOEXEC and lose the descriptor at exec: the spawner copies it away first.
            var ends: [Int32] = [-1, -1]
            #expect(df_pipe2_cloexec(&ends, 0) == 0)
            let high = fcntl(ends[1], F_DUPFD_CLOEXEC, Int32(200))
            defer { [ends[0], ends[1], high].forEach { close($0) } }
            let parentView = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(high)")
            let result = try await ProcessSupervisor().run(
                ProcessSpec(
                    ["sh", "-c", "ls /proc/$$/fd; readlink /proc/$$/fd/\(high)"], extraDescriptors: [high: high]))
            #expect(result.lines.map(\.text) == ["0", "1", "2", "\(high)", parentView])
        }

        @Test func twoExtraDescriptorsLikeRemoteDebuggingPipe() async throws {
            // Chromium's --remote-debugging-pipe: the child reads commands on fd 3 and writes replies on fd 4.
            var toChild: [Int32] = [-1, -1]
            var fromChild: [Int32] = [-1, -1]
            #expect(df_pipe2_cloexec(&toChild, 0) == 0)
            #expect(df_pipe2_cloexec(&fromChild, 0) == 0)
            defer {
                close(toChild[1])
                close(fromChild[0])
            }
            let message = "ping\n"
            #expect(write(toChild[1], message, 5) == 5)
            let result = try await ProcessSupervisor().run(
                ProcessSpec(
                    ["sh", "-c", "read line <&3; echo \"got $line\" >&4"],
                    extraDescriptors: [3: toChild[0], 4: fromChild[1]]))
            close(toChild[0])
            close(fromChild[1])
            #expect(result.succeeded)
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(fromChild[0], &buffer, buffer.count)
            #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "got ping\n")
        }

        @Test func workingDirectoryAndEnvironmentAreApplied() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            let result = try await ProcessSupervisor().run(
                ProcessSpec(
                    ["sh", "-c", "pwd; echo \"$FOO\"; echo \"${HOME:-unset}\""], workingDirectory: folder.path,
                    environment: ["FOO": "bar baz", "PATH": "/usr/bin:/bin"]))
            #expect(result.lines.map(\.text) == [folder.path, "bar baz", "unset"])
        }

        @Test func stdoutAndStderrAreTaggedAndCarriageReturnNewlineIsOneLine() async throws {
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["sh", "-c", "printf 'a\\r\\nb\\rc\\n\\n'; printf 'err\\n' >&2"]))
            let stdout = result.lines.filter { $0.stream == .stdout }.map(\.text)
            let stderr = result.lines.filter { $0.stream == .stderr }.map(\.text)
            #expect(stdout == ["a", "b", "c", ""])
            #expect(stderr == ["err"])
        }

        @Test func resultKeepsOnlyTheLastRetainedLines() async throws {
            let log = LineLog()
            let result = try await ProcessSupervisor().run(
                ProcessSpec(["seq", "1", "25"]), options: SupervisionOptions(retainedLines: 3), onOutput: log.append)
            #expect(result.lines.map(\.text) == ["23", "24", "25"])
            #expect(result.lineCount == 25)
            #expect(log.texts == (1...25).map(String.init))
        }

        @Test func nonExecutableFileIsAnExecFailure() async throws {
            let folder = try TempFolder()
            defer { folder.cleanup() }
            try folder.write("script.sh", "echo hi\n")
            await #expect {
                try await ProcessSupervisor().run(ProcessSpec(["./script.sh"], workingDirectory: folder.path))
            } throws: { error in
                guard let error = error as? ProcessError else { return false }
                return error.code == .execFailed && error.message == "cannot run ./script.sh: Permission denied"
            }
        }

        @Test func missingWorkingDirectoryIsNamed() async throws {
            await #expect {
                try await ProcessSupervisor().run(ProcessSpec(["true"], workingDirectory: "/nonexistent/dir"))
            } throws: { error in
                (error as? ProcessError)?.message
                    == "cannot run true: working directory /nonexistent/dir does not exist"
            }
        }

        @Test func lineSplitterHandlesTerminators() {
            var splitter = LineSplitter()
            var lines: [String] = []
            let input = Array("one\r\ntwo\rthree\n\nfour\r".utf8) + Array("\nfive".utf8)
            // Fed in two chunks so that \r and \n arrive separately.
            input[0..<17].withUnsafeBytes { splitter.feed($0) { lines.append($0) } }
            input[17...].withUnsafeBytes { splitter.feed($0) { lines.append($0) } }
            splitter.finish { lines.append($0) }
            #expect(lines == ["one", "two", "three", "", "four", "five"])
        }

        @Test func manyShortRunsLeaveNoDescriptorOrChild() async throws {
            let supervisor = ProcessSupervisor()
            // Warm-up: lazily created runtime descriptors (thread pools, /proc handles) are not leaks.
            _ = try await supervisor.run(ProcessSpec(["true"]))
            let descriptorsBefore = openDescriptorCount()
            let childrenBefore = childrenOfSelf()
            var failures = 0
            var groupsLeft = 0
            for index in 0..<200 {
                let spec = index % 2 == 0 ? ProcessSpec(["/bin/true"]) : ProcessSpec(["sh", "-c", "echo x"])
                let result = try await supervisor.run(spec)
                if !result.succeeded { failures += 1 }
                if !groupGone(result.pid) { groupsLeft += 1 }
            }
            #expect(failures == 0)
            #expect(groupsLeft == 0)
            #expect(openDescriptorCount() == descriptorsBefore)
            #expect(childrenOfSelf() == childrenBefore)
            #expect(supervisor.runningCount == 0)
        }
    }
}
