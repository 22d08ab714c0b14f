import DemoForgeStore
import Foundation

/// Reads one JSON object of a validated document, key by key, and rejects keys nobody asked for.
///
/// Shared by the configuration and the workflow loaders so that both report errors the same way:
/// `<file>: <key.path> = <value> <problem>; allowed: <what>`.
public struct ObjectReader {
    let file: String
    let path: String
    let members: [String: JSONValue]
    private var read: Set<String> = []

    /// - Parameters:
    ///   - value: the object to read.
    ///   - file: the file name for messages.
    ///   - path: the dotted key path of `value` (empty for the root).
    public init(_ value: JSONValue, file: String, path: String = "") throws(ConfigError) {
        self.file = file
        self.path = path
        guard case .object(let members) = value else {
            throw ConfigError(
                .wrongType, keyPath: path,
                "\(file): \(path.isEmpty ? "the document" : path) = \(Self.show(value)) is \(value.typeWithArticle); allowed: an object"
            )
        }
        self.members = members
    }

    /// The full key path of `key`.
    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func show(_ value: JSONValue) -> String {
        let text = value.compact()
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }

    /// An error for `key` holding `value`.
    public func invalid(_ key: String, _ value: JSONValue, _ allowed: String) -> ConfigError {
        ConfigError(.invalidValue, keyPath: keyPath(key), "\(file): \(keyPath(key)) = \(Self.show(value)) is not allowed; allowed: \(allowed)")
    }

    func wrongType(_ key: String, _ value: JSONValue, _ allowed: String) -> ConfigError {
        ConfigError(
            .wrongType, keyPath: keyPath(key),
            "\(file): \(keyPath(key)) = \(Self.show(value)) is \(value.typeWithArticle); allowed: \(allowed)"
        )
    }

    /// The raw value of `key`, marking it as known.
    public mutating func raw(_ key: String) -> JSONValue? {
        read.insert(key)
        return members[key]
    }

    /// The longest duration a setting may have: one year. Larger values are typos, and they would overflow
    /// the conversions to milliseconds and nanoseconds further on.
    public static let maxSeconds = 31_536_000.0

    /// A number of seconds in (0, one year], or the default when absent.
    public mutating func positiveSeconds(_ key: String, _ fallback: Double) throws(ConfigError) -> Double {
        guard let value = raw(key) else { return fallback }
        let allowed = "a number of seconds > 0 and at most \(Int(Self.maxSeconds)) (one year)"
        guard let number = value.doubleValue else { throw wrongType(key, value, allowed) }
        guard number > 0, number <= Self.maxSeconds, number.isFinite else { throw invalid(key, value, allowed) }
        return number
    }

    /// A number >= `minimum`, or the default when absent.
    public mutating func number(_ key: String, _ fallback: Double, minimum: Double) throws(ConfigError) -> Double {
        guard let value = raw(key) else { return fallback }
        guard let number = value.doubleValue else { throw wrongType(key, value, "a number >= \(minimum)") }
        guard number >= minimum, number <= 1e6, number.isFinite else { throw invalid(key, value, "a number from \(minimum) to 1000000") }
        return number
    }

    /// An integer in `range`, or the default when absent.
    public mutating func integer(_ key: String, _ fallback: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let value = raw(key) else { return fallback }
        let allowed = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let number = value.intValue else { throw wrongType(key, value, allowed) }
        guard number >= range.lowerBound, number <= range.upperBound else { throw invalid(key, value, allowed) }
        return Int(number)
    }

    /// A boolean, or the default when absent.
    public mutating func bool(_ key: String, _ fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = raw(key) else { return fallback }
        guard case .bool(let flag) = value else { throw wrongType(key, value, "true or false") }
        return flag
    }

    /// A non-empty string, or the default when absent.
    public mutating func string(_ key: String, _ fallback: String) throws(ConfigError) -> String {
        guard let value = raw(key) else { return fallback }
        guard case .string(let text) = value else { throw wrongType(key, value, "a string") }
        guard !text.isEmpty else { throw invalid(key, value, "a non-empty string") }
        return text
    }

    /// A non-empty string or null; nil when absent or null.
    public mutating func optionalString(_ key: String) throws(ConfigError) -> String? {
        guard let value = raw(key), value != .null else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, value, "a string or null") }
        guard !text.isEmpty else { throw invalid(key, value, "a non-empty string or null") }
        return text
    }

    /// An argv array of non-empty strings, or null; nil when absent or null.
    public mutating func argv(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = raw(key), value != .null else { return nil }
        let allowed = "an argv array of strings such as [\"npm\", \"run\", \"build\"], or null"
        guard case .array(let items) = value else { throw wrongType(key, value, allowed) }
        var argv: [String] = []
        for item in items {
            guard case .string(let text) = item, !text.isEmpty else { throw invalid(key, value, allowed) }
            argv.append(text)
        }
        guard !argv.isEmpty else { throw invalid(key, value, allowed) }
        return argv
    }

    /// A nested object reader for `key`, or nil when absent.
    public mutating func object(_ key: String) throws(ConfigError) -> ObjectReader? {
        guard let value = raw(key) else { return nil }
        return try ObjectReader(value, file: file, path: keyPath(key))
    }

    /// Throws for the first key that was never read: a typo or a setting that does not exist.
    public func finish(known: String? = nil) throws(ConfigError) {
        for key in members.keys.sorted() where !read.contains(key) {
            let allowed = read.sorted().joined(separator: ", ")
            throw ConfigError(
                .unknownKey, keyPath: keyPath(key),
                "\(file): unknown key \(keyPath(key)); allowed keys\(path.isEmpty ? "" : " in \(path)"): \(known ?? allowed)"
            )
        }
    }
}
