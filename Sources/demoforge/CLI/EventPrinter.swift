import DemoForgeCore
import Foundation

/// Prints task events as readable lines, or one JSON object a line.
struct EventPrinter: Sendable {
    let json: Bool

    func print(_ event: TaskEvent) {
        if json {
            Output.out(event.toJSON().compact())
            return
        }
        let time = event.time.count >= 23 ? String(event.time.dropFirst(11).prefix(12)) : event.time
        let step = event.step.map { "[\($0)] " } ?? ""
        switch event.type {
        case "step-started":
            Output.out("\(time) ==> \(step)\(event.message)")
        case "output":
            Output.out("\(time)     \(step)\(event.message)")
        default:
            Output.out("\(time) \(event.type): \(step)\(event.message)")
        }
    }
}
