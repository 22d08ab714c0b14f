#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Whether anyone is using a preview server: open TCP connections to its port, read from `/proc/net/tcp{,6}`.
///
/// The manager cannot see the requests of a server it did not write (`npm start`, a user's command), but a
/// browser that shows the page holds a connection to it (keep-alive, live reload); such a connection counts
/// like a touch for the idle timeout.
enum PortActivity {
    /// True when a connection to `port` on this machine is established (either end, IPv4 or IPv6).
    static func hasOpenConnections(port: Int) -> Bool {
        ["/proc/net/tcp", "/proc/net/tcp6"].contains { file in
            guard let text = readToEnd(file) else { return false }
            return text.split(separator: "\n").dropFirst().contains { isEstablished($0, port: port) }
        }
    }

    /// The whole content of a /proc file. (Foundation's `String(contentsOfFile:)` trusts the size /proc reports
    /// and returns only the first read's page of a long /proc/net/tcp.)
    static func readToEnd(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A line `sl local_address rem_address st ...` with `ADDRESS:PORT` in hex; state `01` is ESTABLISHED.
    static func isEstablished(_ line: Substring, port: Int) -> Bool {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 3, fields[3] == "01" else { return false }
        return [fields[1], fields[2]].contains { endpoint in
            endpoint.split(separator: ":").last.flatMap { Int($0, radix: 16) } == port
        }
    }
}
