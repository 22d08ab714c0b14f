/// The words of a command line after the command's name: flags (`--name value`, `--name=value`, `--flag`)
/// and positionals. Each command takes what it knows; anything left over is a usage error.
struct Arguments {
    private(set) var positionals: [String] = []
    private var options: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var consumed: Set<String> = []

    /// Option names that take a value; everything else starting with `--` is a boolean flag.
    init(_ words: [String], valued: Set<String>) throws(CLIError) {
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            if word == "--" {
                positionals += words[index...]
                break
            }
            guard word.hasPrefix("--"), word.count > 2 else {
                positionals.append(word)
                continue
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if valued.contains(name) {
                if value == nil {
                    guard index < words.count else { throw CLIError.usage("--\(name) needs a value") }
                    value = words[index]
                    index += 1
                }
                options[name, default: []].append(value!)
            } else {
                if value != nil { throw CLIError.usage("--\(name) takes no value") }
                flags.insert(name)
            }
        }
    }

    /// The last value of `--name`.
    mutating func option(_ name: String) -> String? {
        consumed.insert(name)
        return options[name]?.last
    }

    /// Whether `--name` was given.
    mutating func flag(_ name: String) -> Bool {
        consumed.insert(name)
        return flags.contains(name)
    }

    /// An integer option, with a usage error naming the option and value when it is not one.
    mutating func intOption(_ name: String) throws(CLIError) -> Int? {
        guard let text = option(name) else { return nil }
        guard let value = Int(text) else { throw CLIError.usage("--\(name) = \(text) is not an integer") }
        return value
    }

    /// Removes and returns the first positional.
    mutating func next() -> String? {
        positionals.isEmpty ? nil : positionals.removeFirst()
    }

    /// Usage error for anything not consumed by the command.
    func finish() throws(CLIError) {
        if let extra = positionals.first { throw CLIError.usage("unexpected argument \"\(extra)\"") }
        let unknown = Set(options.keys).union(flags).subtracting(consumed)
        if let name = unknown.sorted().first { throw CLIError.usage("unknown option --\(name)") }
    }
}
