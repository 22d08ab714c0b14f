import DemoForgeSystem
import Foundation

/// One Server-Sent Events frame (comments are skipped).
public struct SSEFrame: Sendable, Equatable {
    /// The `id:` field, if any.
    public var id: String?
    /// The `event:` field, if any.
    public var event: String?
    /// The `data:` lines joined by newlines.
    public var data: String

    /// The id as a number (an event's seq), or nil.
    public var seq: Int? { id.flatMap { Int($0) } }
}

/// A blocking SSE reader over one raw HTTP connection, for tests: call it through ``offPool(_:)``.
public final class SSEClient: @unchecked Sendable {
    /// The connection (close it to disconnect).
    public let connection: RawHTTPConnection
    /// The response head.
    public let head: RawHTTPHead
    /// True once the terminating chunk arrived: the server ended the stream cleanly.
    public private(set) var endedCleanly = false
    private var pending: [UInt8] = []
    private var offset = 0

    /// Sends `GET target` and reads the response head. A non-200 head leaves the body unread
    /// (read it with ``RawHTTPConnection/readBody(_:timeout:)`` on ``connection``).
    public init(port: Int, _ target: String, headers: [(String, String)] = [], timeout: Double = 5) throws {
        connection = try RawHTTPConnection(port: port)
        try connection.sendRequest("GET", target, headers: headers)
        head = try connection.readHead(timeout: timeout)
    }

    /// The next frame; nil when the stream ended with its terminating chunk. Throws on timeout or on a
    /// connection closed without the terminator.
    public func next(timeout: Double = 5) throws -> SSEFrame? {
        let deadline = monotonicSeconds() + timeout
        while true {
            if let frame = takeFrame() { return frame }
            if endedCleanly { return nil }
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { throw RawHTTPError("timed out waiting for an SSE frame") }
            guard let chunk = try connection.readChunk(timeout: remaining) else {
                endedCleanly = true
                continue
            }
            if offset > 0 {
                pending.removeFirst(offset)
                offset = 0
            }
            pending += chunk
        }
    }

    /// Reads frames until the stream ends; returns them (throws on timeout or an unclean end).
    public func readToEnd(timeout: Double = 5) throws -> [SSEFrame] {
        var frames: [SSEFrame] = []
        while let frame = try next(timeout: timeout) { frames.append(frame) }
        return frames
    }

    /// Closes the connection.
    public func close() { connection.close() }

    private func takeFrame() -> SSEFrame? {
        while let end = frameEnd() {
            let block = String(decoding: pending[offset..<end.start], as: UTF8.self)
            offset = end.next
            var frame = SSEFrame(id: nil, event: nil, data: "")
            var dataLines: [String] = []
            var hasField = false
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") || line.isEmpty { continue }
                let name: Substring
                var value: Substring
                if let colon = line.firstIndex(of: ":") {
                    name = line[..<colon]
                    value = line[line.index(after: colon)...]
                    if value.first == " " { value = value.dropFirst() }
                } else {
                    name = line
                    value = ""
                }
                hasField = true
                switch name {
                case "id": frame.id = String(value)
                case "event": frame.event = String(value)
                case "data": dataLines.append(String(value))
                default: break
                }
            }
            guard hasField else { continue }
            frame.data = dataLines.joined(separator: "\n")
            return frame
        }
        return nil
    }

    /// Where the first blank line is: the frame's end and the start of the next one.
    private func frameEnd() -> (start: Int, next: Int)? {
        var i = offset
        while i + 1 < pending.count {
            if pending[i] == 10 && pending[i + 1] == 10 { return (i, i + 2) }
            i += 1
        }
        return nil
    }
}
