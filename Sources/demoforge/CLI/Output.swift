#if canImport(Glibc)
import Glibc
#endif

/// Printing for commands: stdout for results, stderr for logs and errors.
///
/// Writes go straight to the descriptors and ignore failures: a reader that went away (`demoforge tasks | head`)
/// must not crash a command, least of all a run that still has processes to tear down (SIGPIPE is ignored).
enum Output {
    static func out(_ text: String) { write(1, text + "\n") }

    static func err(_ text: String) { write(2, text + "\n") }

    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
