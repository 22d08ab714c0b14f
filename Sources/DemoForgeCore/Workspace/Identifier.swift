/// Validation of the identifiers that become path components: nothing else ever reaches the file system.
public enum Identifier {
    /// A client slug: `^[a-z0-9][a-z0-9-]{0,62}$`.
    public static func isValidSlug(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 63 else { return false }
        func ok(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard ok(first) else { return false }
        return text.utf8.dropFirst().allSatisfy { ok($0) || $0 == UInt8(ascii: "-") }
    }

    /// A task id: 26 characters of lower-case Crockford base32 (time-sortable prefix + random).
    public static func isValidTaskId(_ text: String) -> Bool {
        text.utf8.count == 26 && text.utf8.allSatisfy { TaskIdAlphabet.contains($0) }
    }

    /// A file name inside a folder of ours: no separators, no leading dot, no `..`.
    public static func isValidFileName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 200, !text.hasPrefix(".") else { return false }
        return text.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
    }

    static let TaskIdAlphabet: Set<UInt8> = Set("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// The error text for a bad slug.
    public static func slugProblem(_ slug: String) -> String {
        "Invalid client slug \"\(slug)\": allowed: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
    }
}
