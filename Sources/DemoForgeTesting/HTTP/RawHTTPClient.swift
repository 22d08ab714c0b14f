import DemoForgeSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failure of the raw test client, naming what it was waiting for.
public struct RawHTTPError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// The status line and headers of a response.
public struct RawHTTPHead: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields in order.
    public let headers: [(name: String, value: String)]

    /// The first value of `name` (case-insensitive).
    public subscript(name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A full response.
public struct RawHTTPResponse: Sendable {
    /// Status and headers.
    public let head: RawHTTPHead
    /// The decoded body (chunked encoding removed).
    public let body: [UInt8]
    /// The status code.
    public var status: Int { head.status }
    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client over one loopback socket, for tests: exact bytes out, exact bytes in.
///
/// - Important: it blocks; call it through ``offPool(_:)`` from async tests so that the cooperative pool
///   stays free for the server's handlers.
public final class RawHTTPConnection: @unchecked Sendable {
    /// The socket.
    public private(set) var fd: Int32
    private var buffer: [UInt8] = []
    private var eof = false

    /// Connects to `127.0.0.1:port`; `receiveBuffer` shrinks SO_RCVBUF (slow-reader tests).
    public init(port: Int, receiveBuffer: Int? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError("socket failed: errno \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let code = errno
            Glibc.close(fd)
            throw RawHTTPError("connect to 127.0.0.1:\(port) failed: errno \(code)")
        }
        self.fd = fd
    }

    deinit { close() }

    /// Closes the socket (idempotent).
    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Sends all of `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RawHTTPError("send failed: errno \(errno)")
            }
            offset += n
        }
    }

    /// Sends UTF-8 text.
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a request with `Host` and, for a body, `Content-Length`.
    public func sendRequest(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) throws {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
    }

    /// Reads more bytes into the buffer; false at EOF. Throws on timeout.
    private func fill(deadline: Double) throws -> Bool {
        if eof { return false }
        while true {
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { throw RawHTTPError("timed out waiting for data") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, min(remaining * 1000, 1000))))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == ECONNRESET {
                    eof = true
                    return false
                }
                throw RawHTTPError("recv failed: errno \(errno)")
            }
            if n == 0 {
                eof = true
                return false
            }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    private func readLine(deadline: Double) throws -> String {
        while true {
            if let i = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill(deadline: deadline) else { throw RawHTTPError("connection closed inside a line") }
        }
    }

    private func readExactly(_ count: Int, deadline: Double) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill(deadline: deadline) else { throw RawHTTPError("connection closed inside a body") }
        }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads the status line and headers.
    public func readHead(timeout: Double = 5) throws -> RawHTTPHead {
        let deadline = monotonicSeconds() + timeout
        let statusLine = try readLine(deadline: deadline)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw RawHTTPError("bad status line '\(statusLine)'")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try readLine(deadline: deadline)
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            headers.append((name: String(line[..<colon]), value: String(value)))
        }
        return RawHTTPHead(status: status, headers: headers)
    }

    /// Reads one chunk of a chunked body; nil for the terminating zero-length chunk.
    public func readChunk(timeout: Double = 5) throws -> [UInt8]? {
        let deadline = monotonicSeconds() + timeout
        let sizeLine = try readLine(deadline: deadline)
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw RawHTTPError("bad chunk size line '\(sizeLine)'")
        }
        if size == 0 {
            _ = try readLine(deadline: deadline)
            return nil
        }
        let data = try readExactly(size, deadline: deadline)
        _ = try readLine(deadline: deadline)
        return data
    }

    /// Reads the body that follows `head` (Content-Length, chunked, or until EOF).
    public func readBody(_ head: RawHTTPHead, timeout: Double = 5) throws -> [UInt8] {
        if head["Transfer-Encoding"]?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while let chunk = try readChunk(timeout: timeout) { body += chunk }
            return body
        }
        let deadline = monotonicSeconds() + timeout
        if let length = head["Content-Length"].flatMap({ Int($0) }) {
            return try readExactly(length, deadline: deadline)
        }
        while try fill(deadline: deadline) {}
        defer { buffer = [] }
        return buffer
    }

    /// Reads a full response.
    public func readResponse(timeout: Double = 5) throws -> RawHTTPResponse {
        let head = try readHead(timeout: timeout)
        return RawHTTPResponse(head: head, body: try readBody(head, timeout: timeout))
    }

    /// Reads chunks of a streamed body until the text received so far satisfies `done`; returns that text.
    public func readStream(timeout: Double = 5, until done: (String) -> Bool) throws -> String {
        let deadline = monotonicSeconds() + timeout
        var text = ""
        while !done(text) {
            guard let chunk = try readChunk(timeout: max(0.001, deadline - monotonicSeconds())) else {
                throw RawHTTPError("stream ended before the expected data; got: \(text.prefix(500))")
            }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    /// Reads chunks until the terminating chunk; true when it arrived (a clean end), false at EOF without it.
    public func readToEndOfStream(timeout: Double = 5) throws -> Bool {
        while true {
            do {
                guard try readChunk(timeout: timeout) != nil else { return true }
            } catch let error as RawHTTPError where error.message.hasPrefix("connection closed") {
                return false
            }
        }
    }

    /// True when the peer has closed (EOF or reset) within `timeout`; buffered data is discarded.
    public func waitForClose(timeout: Double = 5) throws -> Bool {
        let deadline = monotonicSeconds() + timeout
        while try fill(deadline: deadline) { buffer = [] }
        return true
    }
}

/// One request on a fresh connection, answered in full.
public func rawHTTPRequest(
    port: Int, _ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8] = [],
    timeout: Double = 5
) throws -> RawHTTPResponse {
    let connection = try RawHTTPConnection(port: port)
    defer { connection.close() }
    try connection.sendRequest(method, target, headers: headers + [("Connection", "close")], body: body)
    return try connection.readResponse(timeout: timeout)
}

/// Open file descriptors of this process (`/proc/self/fd`).
public func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes; returns the elapsed seconds,
/// or nil on timeout. For waiting on a state the code under test reaches asynchronously.
public func waitUntil(timeout: Double, _ condition: () -> Bool) async -> Double? {
    let start = monotonicSeconds()
    while monotonicSeconds() - start < timeout {
        if condition() { return monotonicSeconds() - start }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition() ? monotonicSeconds() - start : nil
}
