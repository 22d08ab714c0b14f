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
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return false }
            return text.split(separator: "\n").dropFirst().contains { isEstablished($0, port: port) }
        }
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
