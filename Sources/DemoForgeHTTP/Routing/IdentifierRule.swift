/// A rule an identifier taken from a request must match before it is used (e.g. as a folder name).
public struct IdentifierRule: Sendable {
    /// A name for error messages, e.g. `slug`.
    public let name: String
    /// The pattern shown in error messages, e.g. `^[a-z0-9][a-z0-9-]{0,62}$`.
    public let pattern: String
    private let check: @Sendable (String) -> Bool

    /// Creates a rule from a predicate; `pattern` is only shown in messages.
    public init(name: String, pattern: String, check: @escaping @Sendable (String) -> Bool) {
        self.name = name
        self.pattern = pattern
        self.check = check
    }

    /// Creates a rule from character classes: a first character, following characters, and a length range.
    public init(
        name: String,
        pattern: String,
        first: @escaping @Sendable (Unicode.Scalar) -> Bool,
        rest: @escaping @Sendable (Unicode.Scalar) -> Bool,
        length: ClosedRange<Int>
    ) {
        self.init(name: name, pattern: pattern) { value in
            let scalars = Array(value.unicodeScalars)
            guard length.contains(scalars.count), let head = scalars.first, first(head) else { return false }
            return scalars.dropFirst().allSatisfy(rest)
        }
    }

    /// True when `value` matches.
    public func matches(_ value: String) -> Bool { check(value) }

    /// Returns `value` when it matches, else throws 400 `invalid_identifier` naming `what`, the value and the rule.
    public func validate(_ value: String, what: String) throws(HTTPError) -> String {
        guard check(value) else {
            throw HTTPError.badRequest(
                "\(what) '\(value)' is not a valid \(name) (must match \(pattern))", code: .invalidIdentifier)
        }
        return value
    }

    /// `^[a-z0-9][a-z0-9-]{0,62}$` (client slugs).
    public static let slug = IdentifierRule(
        name: "slug",
        pattern: "^[a-z0-9][a-z0-9-]{0,62}$",
        first: { isLowerAlnum($0) },
        rest: { isLowerAlnum($0) || $0 == "-" },
        length: 1...63
    )

    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$` without `..` (file names such as artifacts).
    public static let fileName = IdentifierRule(
        name: "file name", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ and no '..'"
    ) { value in
        let scalars = Array(value.unicodeScalars)
        guard (1...128).contains(scalars.count), let head = scalars.first, isAlnum(head) else { return false }
        guard scalars.dropFirst().allSatisfy({ isAlnum($0) || $0 == "." || $0 == "_" || $0 == "-" }) else {
            return false
        }
        return !value.contains("..")
    }

    /// ASCII `[a-z0-9]`.
    public static func isLowerAlnum(_ s: Unicode.Scalar) -> Bool {
        (s >= "a" && s <= "z") || (s >= "0" && s <= "9")
    }

    /// ASCII `[A-Za-z0-9]`.
    public static func isAlnum(_ s: Unicode.Scalar) -> Bool {
        isLowerAlnum(s) || (s >= "A" && s <= "Z")
    }
}
