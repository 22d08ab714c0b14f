import Foundation

/// One measured number of a scenario.
struct Metric: Sendable {
    /// What was measured, e.g. `p99 latency (1000 streams)`.
    let name: String
    /// The value (a median over runs unless the name says otherwise).
    let value: Double
    /// Its unit, e.g. `ms`, `ops/s`, `MB`.
    let unit: String
}

/// The outcome of one scenario: its parameters, numbers and remarks.
struct ScenarioReport: Sendable {
    /// The scenario's name (`sse-fanout`, ...).
    let name: String
    /// Parameters that shape the numbers (counts, durations, runs).
    var parameters: [String: String] = [:]
    /// The numbers, in print order.
    var metrics: [Metric] = []
    /// Findings and caveats.
    var notes: [String] = []
    /// Wall time of the whole scenario.
    var seconds: Double = 0

    init(name: String) { self.name = name }

    mutating func add(_ name: String, _ value: Double, _ unit: String) {
        metrics.append(Metric(name: name, value: value, unit: unit))
    }

    /// A readable table.
    func table() -> String {
        var out = "== \(name) (\(String(format: "%.1f", seconds)) s)\n"
        if !parameters.isEmpty {
            out += "   " + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                + "\n"
        }
        let width = max(10, metrics.map(\.name.count).max() ?? 10)
        for metric in metrics {
            let padded = metric.name.padding(toLength: width, withPad: " ", startingAt: 0)
            out += "   \(padded)  \(Self.format(metric.value).leftPad(12))  \(metric.unit)\n"
        }
        for note in notes { out += "   note: \(note)\n" }
        return out
    }

    /// The scenario as a JSON object (hand-built, keys sorted).
    func json() -> String {
        let params = parameters.sorted { $0.key < $1.key }.map { "\(Self.quote($0.key)):\(Self.quote($0.value))" }
        let metrics = metrics.map {
            "{\"name\":\(Self.quote($0.name)),\"unit\":\(Self.quote($0.unit)),\"value\":\(Self.jsonNumber($0.value))}"
        }
        let notes = notes.map(Self.quote)
        return "{\"metrics\":[\(metrics.joined(separator: ","))],\"name\":\(Self.quote(name)),"
            + "\"notes\":[\(notes.joined(separator: ","))],\"parameters\":{\(params.joined(separator: ","))},"
            + "\"seconds\":\(Self.jsonNumber(seconds))}"
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "n/a" }
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        if abs(value) >= 100 { return String(format: "%.0f", value) }
        if abs(value) >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.4f", value)
    }

    static func jsonNumber(_ value: Double) -> String {
        value.isFinite ? String(format: "%.6g", value) : "null"
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
