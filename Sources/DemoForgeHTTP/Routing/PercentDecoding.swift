/// Percent-decoding of path segments and query strings.
enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when `plusIsSpace`); nil for a bad escape or invalid UTF-8.
    static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String? {
        guard text.contains("%") || (plusIsSpace && text.contains("+")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let hi = iterator.next().flatMap(hexValue), let lo = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(hi << 4 | lo)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Splits a request target into the raw path, its decoded segments and the decoded query.
    ///
    /// - Throws: 400 for a target that is not origin-form or carries a bad escape.
    static func parseTarget(_ target: String) throws(HTTPError) -> (
        path: String, segments: [String], query: [(name: String, value: String)]
    ) {
        var rest = Substring(target)
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var rawQuery: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            rawQuery = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard rest.first == "/" else {
            throw HTTPError.badRequest("request target must start with '/'")
        }
        var segments: [String] = []
        for raw in rest.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard let decoded = decode(raw) else {
                throw HTTPError.badRequest("bad percent-encoding in path segment '\(raw)'")
            }
            segments.append(decoded)
        }
        // "/" alone and a trailing slash give one empty last segment; drop it so "/a/" matches "/a".
        if segments.last == "" { segments.removeLast() }
        var query: [(name: String, value: String)] = []
        for item in rawQuery.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0], plusIsSpace: true),
                let value = decode(parts.count > 1 ? parts[1] : "", plusIsSpace: true)
            else {
                throw HTTPError.badRequest("bad percent-encoding in query item '\(item)'")
            }
            query.append((name: name, value: value))
        }
        return (String(rest), segments, query)
    }
}
