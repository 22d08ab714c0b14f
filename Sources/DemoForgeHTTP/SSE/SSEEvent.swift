/// One Server-Sent Events frame.
public struct SSEEvent: Sendable, Equatable {
    /// `id:` (e.g. the event's seq); newlines are removed.
    public var id: String?
    /// `event:` type; newlines are removed.
    public var event: String?
    /// `data:`; a multi-line value becomes several `data:` lines.
    public var data: String

    /// Creates an event.
    public init(id: String? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The wire form, ending with the blank line that dispatches it.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.utf8.count + 32)
        if let id { SSEEvent.appendField("id: ", id, to: &out) }
        if let event { SSEEvent.appendField("event: ", event, to: &out) }
        // Each of \r\n, \r and \n ends a line for an EventSource parser: each line gets its own `data:`.
        let prefix = Array("data: ".utf8)
        out += prefix
        var previousCR = false
        for byte in data.utf8 {
            if byte == UInt8(ascii: "\n") && previousCR {
                previousCR = false
                continue
            }
            previousCR = byte == UInt8(ascii: "\r")
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                out.append(UInt8(ascii: "\n"))
                out += prefix
            } else {
                out.append(byte)
            }
        }
        out += [UInt8(ascii: "\n"), UInt8(ascii: "\n")]
        return out
    }

    private static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        out += Array(name.utf8)
        for byte in value.utf8 where byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r") { out.append(byte) }
        out.append(UInt8(ascii: "\n"))
    }

    static func singleLine(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }.map(Character.init))
    }

    /// The wire form of a comment line (heartbeats): `: text` and a blank line.
    public static func comment(_ text: String) -> [UInt8] {
        Array((": " + singleLine(text) + "\n\n").utf8)
    }
}
