#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Minimal loopback HTTP client pieces on raw sockets (the bench target does not depend on DemoForgeTesting).
enum RawSocket {
    /// A connected TCP socket to 127.0.0.1:`port`, or -1.
    static func connect(port: Int, nonBlocking: Bool = false) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            close(fd)
            return -1
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return fd
    }

    static func sendAll(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Closes with RST instead of FIN (no TIME_WAIT on the client side).
    static func abort(_ fd: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// Reads until `done(bytes)` or EOF or `timeout`; returns what arrived.
    static func read(_ fd: Int32, timeout: Double, until done: ([UInt8]) -> Bool) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        let deadline = now() + timeout
        while !done(out) {
            let left = deadline - now()
            if left <= 0 { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// One GET on a fresh connection; returns (status, body) or nil.
    static func get(port: Int, path: String, timeout: Double = 5) -> (Int, String)? {
        let fd = connect(port: port)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard sendAll(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") else { return nil }
        let bytes = read(fd, timeout: timeout) { _ in false }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), let status = Int(text.dropFirst(9).prefix(3)) else { return nil }
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return (status, body)
    }
}

/// Many open SSE streams read by one thread with poll(2). Each event carries `t=<append ns>` in its message;
/// latency is receive time minus that.
final class StreamClients: @unchecked Sendable {
    private struct Connection {
        var fd: Int32
        var carry: [UInt8] = []
        var headerDone = false
        var status = 0
        var events = 0
        var bytes = 0
        var open = true
    }

    private var connections: [Connection] = []
    /// Latencies in nanoseconds of every event received since the last ``resetCounters()``.
    private(set) var latencies: [Double] = []
    private(set) var events = 0
    private(set) var bytes = 0
    private(set) var failures = 0
    /// Monotonic ns of the first and last event received since the last reset.
    private(set) var firstArrival: UInt64 = 0
    private(set) var lastArrival: UInt64 = 0
    private var buffer = [UInt8](repeating: 0, count: 65536)

    var count: Int { connections.count }
    var okCount: Int { connections.filter { $0.headerDone && $0.status == 200 && $0.open }.count }

    /// Opens `count` streams of `path`, in batches, each confirmed by its 200 header.
    func open(port: Int, path: String, count: Int, batch: Int = 250, timeout: Double = 60) {
        let deadline = now() + timeout
        var opened = 0
        while opened < count && now() < deadline {
            let target = min(count, opened + batch)
            for _ in opened..<target {
                let fd = RawSocket.connect(port: port)
                if fd < 0 || !RawSocket.sendAll(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n") {
                    failures += 1
                    if fd >= 0 { close(fd) }
                    continue
                }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                connections.append(Connection(fd: fd))
            }
            opened = target
            while now() < deadline && connections.contains(where: { $0.open && !$0.headerDone }) {
                pump(for: 0.05)
            }
        }
    }

    /// Forgets counts and latencies (keeps the streams).
    func resetCounters() {
        latencies.removeAll(keepingCapacity: true)
        events = 0
        bytes = 0
        firstArrival = 0
        lastArrival = 0
        for i in connections.indices {
            connections[i].events = 0
            connections[i].bytes = 0
        }
    }

    /// Reads whatever arrives for `seconds`.
    func pump(for seconds: Double) {
        let deadline = now() + seconds
        var fds = connections.map { pollfd(fd: $0.open ? $0.fd : -1, events: Int16(POLLIN), revents: 0) }
        while true {
            let left = deadline - now()
            if left <= 0 { return }
            let ready = poll(&fds, nfds_t(fds.count), Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            for i in fds.indices where fds[i].revents != 0 {
                fds[i].revents = 0
                if !readSome(i) { fds[i].fd = -1 }
            }
            // poll(2) scans every descriptor per call: with thousands of streams, let events gather for a
            // moment so that the client's scanning does not starve the server of CPU (adds <= 2 ms latency).
            if fds.count > 2000 { usleep(2000) }
        }
    }

    /// Pumps until `events` reaches `target` or `timeout` passes.
    func pump(untilEvents target: Int, timeout: Double) {
        let deadline = now() + timeout
        while events < target && now() < deadline { pump(for: 0.05) }
    }

    private func readSome(_ i: Int) -> Bool {
        let fd = connections[i].fd
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return true }
            if n <= 0 {
                connections[i].open = false
                return false
            }
            let arrived = monotonicNanos()
            connections[i].bytes += n
            bytes += n
            connections[i].carry += buffer[0..<n]
            consume(i, arrived: arrived)
        }
    }

    private func consume(_ i: Int, arrived: UInt64) {
        var carry = connections[i].carry
        if !connections[i].headerDone {
            guard let end = Self.find(carry, [13, 10, 13, 10], from: 0) else { return }
            let head = String(decoding: carry[0..<end], as: UTF8.self)
            connections[i].status = Int(head.dropFirst(9).prefix(3)) ?? 0
            connections[i].headerDone = true
            carry.removeSubrange(0..<(end + 4))
        }
        // Only complete frames (ending in a blank line) are scanned; the rest waits for more bytes.
        guard let lastEnd = Self.lastFrameEnd(carry) else {
            connections[i].carry = carry
            return
        }
        var index = 0
        let marker: [UInt8] = Array("t=".utf8)
        while let hit = Self.find(carry, marker, from: index), hit < lastEnd {
            var value: UInt64 = 0
            var j = hit + 2
            while j < lastEnd, carry[j] >= 48, carry[j] <= 57 {
                value = value * 10 + UInt64(carry[j] - 48)
                j += 1
            }
            if value > 0 && arrived >= value {
                latencies.append(Double(arrived - value))
                events += 1
                connections[i].events += 1
                if firstArrival == 0 { firstArrival = arrived }
                lastArrival = arrived
            }
            index = j
        }
        carry.removeSubrange(0..<lastEnd)
        connections[i].carry = carry
    }

    private static func lastFrameEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        var k = bytes.count - 2
        while k >= 0 {
            if bytes[k] == 10 && bytes[k + 1] == 10 { return k + 2 }
            k -= 1
        }
        return nil
    }

    static func find(_ bytes: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var k = from
        while k <= bytes.count - needle.count {
            if bytes[k] == needle[0] {
                var match = true
                for m in 1..<needle.count where bytes[k + m] != needle[m] {
                    match = false
                    break
                }
                if match { return k }
            }
            k += 1
        }
        return nil
    }

    /// Closes every stream.
    func closeAll() {
        for connection in connections { close(connection.fd) }
        connections.removeAll()
    }
}
