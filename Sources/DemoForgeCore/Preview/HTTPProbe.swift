#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Asks `http://127.0.0.1:<port>/` for any HTTP answer, without blocking a cooperative thread.
public enum HTTPProbe {
    /// True when something on the port answered with an HTTP status line within `timeout` seconds.
    public static func answers(port: Int, timeout: Double = 1) async -> Bool {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: answersBlocking(port: port, timeout: timeout)) }
            thread.start()
        }
    }

    static func answersBlocking(port: Int, timeout: Double) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let request = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: demoforge-probe\r\n\r\n"
        let sent = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        guard sent > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 12)
        var got = 0
        while got < 12 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, 12 - got, 0) }
            if n <= 0 { break }
            got += n
        }
        return got >= 12 && String(decoding: buffer[0..<5], as: UTF8.self) == "HTTP/"
    }
}
