/// Builds a Prometheus text exposition (format 0.0.4).
public struct PrometheusText: Sendable {
    /// A metric family's type.
    public enum MetricType: String, Sendable {
        case counter, gauge
    }

    /// The text so far.
    public private(set) var text = ""

    /// The content type to answer `/metrics` with.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Creates an empty exposition.
    public init() {}

    /// Appends a family with one unlabelled sample.
    public mutating func counter(_ name: String, help: String, value: Double) {
        family(name, help: help, type: .counter, samples: [(labels: [:], value: value)])
    }

    /// Appends a gauge with one unlabelled sample.
    public mutating func gauge(_ name: String, help: String, value: Double) {
        family(name, help: help, type: .gauge, samples: [(labels: [:], value: value)])
    }

    /// Appends a family: `# HELP`, `# TYPE`, then one line per sample (labels sorted by name).
    public mutating func family(
        _ name: String, help: String, type: MetricType, samples: [(labels: [String: String], value: Double)]
    ) {
        text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                let labels = sample.labels.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\"\(escapeLabel($0.value))\"" }
                text += "{" + labels.joined(separator: ",") + "}"
            }
            text += " " + format(sample.value) + "\n"
        }
    }

    private func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    private func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences("\\", "\\\\").replacingOccurrences("\n", "\\n")
    }

    private func escapeLabel(_ s: String) -> String {
        s.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"").replacingOccurrences("\n", "\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
