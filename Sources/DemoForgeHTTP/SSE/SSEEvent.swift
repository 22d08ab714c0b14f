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
        var out = ""
        if let id { out += "id: " + SSEEvent.singleLine(id) + "\n" }
        if let event { out += "event: " + SSEEvent.singleLine(event) + "\n" }
        // Split on \r\n, \r and \n alike: each is a line end to an EventSource parser.
        let normalized = data.replacingCRLF()
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "data: " + line + "\n"
        }
        out += "\n"
        return Array(out.utf8)
    }

    static func singleLine(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }.map(Character.init))
    }

    /// The wire form of a comment line (heartbeats): `: text` and a blank line.
    public static func comment(_ text: String) -> [UInt8] {
        Array((": " + singleLine(text) + "\n\n").utf8)
    }
}

extension String {
    fileprivate func replacingCRLF() -> String {
        guard contains("\r") else { return self }
        var out = ""
        var previousCR = false
        for scalar in unicodeScalars {
            if scalar == "\r" {
                out += "\n"
                previousCR = true
                continue
            }
            if scalar == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}
