import DemoForgeStore
import Foundation

/// A placeholder with no value, or a template that does not parse: names the placeholder, file and line.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public let placeholder: String
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { message }
}

/// Fills `{{dotted.path}}` templates from a context document (a small, logic-less Mustache dialect).
///
/// - `{{path}}` the value (HTML-escaped in `.html` mode); `{{{path}}}` raw; `{{path|fallback}}` when missing.
/// - `{{#path}}…{{/path}}` repeats for each item of an array (`{{.}}` is the item, `{{.field}}` its field),
///   renders once for a present truthy value, skips a missing/false/empty one; `{{^path}}…{{/path}}` inverts.
/// - A placeholder with no value and no fallback is an error: never an empty string sent to an agent.
public struct TemplateRenderer: Sendable {
    /// How values become text.
    public enum Mode: Sendable {
        /// Prompts: lists and objects as readable text.
        case text
        /// Site files: values HTML-escaped unless `{{{raw}}}`.
        case html
    }

    public let mode: Mode

    public init(mode: Mode) {
        self.mode = mode
    }

    /// Renders `template` (from `file`, for messages) against `context`.
    public func render(_ template: String, context: JSONValue, file: String) throws(TemplateError) -> String {
        var parser = TemplateParser(text: template, file: file)
        let nodes = try parser.parse()
        var out = ""
        try render(nodes, root: context, item: nil, file: file, into: &out)
        return out
    }

    private func render(_ nodes: [TemplateNode], root: JSONValue, item: JSONValue?, file: String, into out: inout String) throws(TemplateError) {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .value(let path, let raw, let fallback, let line):
                let value = resolve(path, root: root, item: item)
                guard let value, !isEmpty(value) else {
                    if let fallback {
                        out += raw || mode == .text ? fallback : Self.escape(fallback)
                        continue
                    }
                    throw TemplateError(
                        placeholder: path, file: file, line: line,
                        message: "\(file):\(line): placeholder {{\(path)}} has no value in the client's context (add it to the brief or context, or give a fallback: {{\(path)|text}})"
                    )
                }
                let text = format(value)
                out += raw || mode == .text ? text : Self.escape(text)
            case .section(let path, let inverted, let children, _):
                let value = resolve(path, root: root, item: item)
                let present = value.map { !isEmpty($0) && $0 != .bool(false) && $0 != .int(0) } ?? false
                if inverted {
                    if !present { try render(children, root: root, item: item, file: file, into: &out) }
                    continue
                }
                guard present, let value else { continue }
                if case .array(let items) = value {
                    for element in items { try render(children, root: root, item: element, file: file, into: &out) }
                } else {
                    try render(children, root: root, item: value, file: file, into: &out)
                }
            }
        }
    }

    private func resolve(_ path: String, root: JSONValue, item: JSONValue?) -> JSONValue? {
        if path == "." { return item }
        if path.hasPrefix(".") { return item?[path: String(path.dropFirst())] }
        if let item, case .object(let members) = item, let first = path.split(separator: ".").first,
            members[String(first)] != nil
        {
            return item[path: path]
        }
        return root[path: path]
    }

    private func isEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return true
        case .string(let text): return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        case .array(let items): return items.isEmpty
        case .object(let members): return members.isEmpty
        default: return false
        }
    }

    /// Values as text: scalars plainly; in text mode lists as "- item" lines and objects as "key: value" lines.
    func format(_ value: JSONValue, depth: Int = 0) -> String {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag ? "yes" : "no"
        case .int(let number): return String(number)
        case .double(let number):
            return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .string(let text): return text
        case .array(let items):
            if mode == .html { return items.map { format($0, depth: depth + 1) }.joined(separator: ", ") }
            let indent = String(repeating: "  ", count: depth)
            return items.map { item -> String in
                let text = format(item, depth: depth + 1)
                if case .object = item { return "\(indent)- " + text.replacingOccurrences(of: "\n", with: "\n\(indent)  ") }
                return "\(indent)- \(text)"
            }.joined(separator: "\n")
        case .object(let members):
            if mode == .html {
                return members.keys.sorted().map { "\($0): \(format(members[$0]!, depth: depth + 1))" }.joined(separator: "; ")
            }
            return members.keys.sorted().map { key -> String in
                let inner = members[key]!
                switch inner {
                case .array, .object: return "\(key):\n" + format(inner, depth: depth + 1)
                default: return "\(key): \(format(inner, depth: depth + 1))"
                }
            }.joined(separator: "\n")
        }
    }

    /// HTML-escapes text for element content and quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

indirect enum TemplateNode: Sendable {
    case text(String)
    case value(path: String, raw: Bool, fallback: String?, line: Int)
    case section(path: String, inverted: Bool, children: [TemplateNode], line: Int)
}

struct TemplateParser {
    let text: String
    let file: String
    private var index: String.Index
    private var line = 1

    init(text: String, file: String) {
        self.text = text
        self.file = file
        self.index = text.startIndex
    }

    mutating func parse() throws(TemplateError) -> [TemplateNode] {
        let (nodes, closing) = try parseUntil(nil)
        if let closing { throw error(closing, "{{/\(closing)}} closes a section that was never opened") }
        return nodes
    }

    private func error(_ placeholder: String, _ problem: String) -> TemplateError {
        TemplateError(placeholder: placeholder, file: file, line: line, message: "\(file):\(line): \(problem)")
    }

    private mutating func parseUntil(_ section: String?) throws(TemplateError) -> ([TemplateNode], String?) {
        var nodes: [TemplateNode] = []
        var buffer = ""
        while index < text.endIndex {
            guard text[index...].hasPrefix("{{") else {
                if text[index] == "\n" { line += 1 }
                buffer.append(text[index])
                index = text.index(after: index)
                continue
            }
            let tagLine = line
            let raw = text[index...].hasPrefix("{{{")
            let open = raw ? 3 : 2
            let close = raw ? "}}}" : "}}"
            let bodyStart = text.index(index, offsetBy: open)
            guard let end = text[bodyStart...].range(of: close) else {
                throw error(String(text[bodyStart...].prefix(30)), "unclosed placeholder (missing \(close))")
            }
            let body = text[bodyStart..<end.lowerBound].trimmingCharacters(in: .whitespaces)
            line += text[bodyStart..<end.lowerBound].filter { $0 == "\n" }.count
            index = end.upperBound
            if !buffer.isEmpty {
                nodes.append(.text(buffer))
                buffer = ""
            }
            if !raw, let first = body.first, first == "#" || first == "^" {
                let path = String(body.dropFirst()).trimmingCharacters(in: .whitespaces)
                let (children, closing) = try parseUntil(path)
                guard closing == path else { throw error(path, "section {{\(first)\(path)}} opened on line \(tagLine) is never closed") }
                nodes.append(.section(path: path, inverted: first == "^", children: children, line: tagLine))
            } else if !raw, body.hasPrefix("/") {
                let path = String(body.dropFirst()).trimmingCharacters(in: .whitespaces)
                guard path == section else {
                    throw error(path, "{{/\(path)}} does not match the open section \(section.map { "{{#\($0)}}" } ?? "(none)")")
                }
                return (nodes, path)
            } else {
                var path = body
                var fallback: String?
                if let bar = body.firstIndex(of: "|") {
                    path = body[..<bar].trimmingCharacters(in: .whitespaces)
                    fallback = String(body[body.index(after: bar)...])
                }
                guard !path.isEmpty else { throw error(body, "empty placeholder {{}}") }
                nodes.append(.value(path: path, raw: raw, fallback: fallback, line: tagLine))
            }
        }
        if !buffer.isEmpty { nodes.append(.text(buffer)) }
        return (nodes, nil)
    }
}
