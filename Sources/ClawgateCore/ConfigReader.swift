import Yams

/// Walks a composed YAML document, turning each node into typed values and recording every
/// problem as a `ConfigIssue` instead of stopping at the first. Used only by `ConfigLoader`.
struct ConfigReader {
    let environment: [String: String]
    private(set) var issues: [ConfigIssue] = []

    init(environment: [String: String]) {
        self.environment = environment
    }

    mutating func add(_ path: String, _ problem: String, expected: String) {
        issues.append(ConfigIssue(path: path.isEmpty ? "(top level)" : path, problem: problem, expected: expected))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The YAML type of a node as written in issues ("expected an integer, got a string").
    static func typeName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar:
            switch node.tagName {
            case .int: return "an integer"
            case .float: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            default: return "a string"
            }
        }
    }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node, node.tagName == .null { return true }
        return false
    }

    private mutating func wrongType(_ node: Node, at path: String, expected: String) {
        add(path, "expected \(expected), got \(Self.typeName(node))", expected: expected)
    }

    // MARK: - Containers

    /// The entries of a mapping whose keys are strings, in file order.
    mutating func mapping(_ node: Node, at path: String, expected: String = "a mapping") -> [(key: String, value: Node)]? {
        guard case .mapping(let map) = node else {
            wrongType(node, at: path, expected: expected)
            return nil
        }
        var entries: [(key: String, value: Node)] = []
        for (key, value) in map {
            guard case .scalar(let scalar) = key else {
                add(path, "a key is \(Self.typeName(key)), not a name", expected: "plain string keys")
                continue
            }
            entries.append((scalar.string, value))
        }
        return entries
    }

    /// A mapping with a fixed set of keys. Unknown keys are reported with a did-you-mean;
    /// keys in `planned` are part of the contract but refused until this build implements them.
    mutating func fields(_ node: Node, at path: String, allowed: [String], planned: [String] = [],
                         expected: String = "a mapping") -> [String: Node]? {
        guard let entries = mapping(node, at: path, expected: expected) else { return nil }
        var result: [String: Node] = [:]
        for (key, value) in entries {
            let keyPath = Self.join(path, key)
            if allowed.contains(key) {
                result[key] = value
            } else if planned.contains(key) {
                add(keyPath, "'\(keyPath)' is part of the configuration contract but this build does not implement it yet",
                    expected: "remove the key")
            } else {
                let valid = allowed + planned
                add(keyPath, "unknown key '\(key)'" + Suggestion.didYouMean(key, among: valid),
                    expected: "one of: " + valid.joined(separator: ", "))
            }
        }
        return result
    }

    mutating func sequence(_ node: Node, at path: String, expected: String = "a list") -> [Node]? {
        guard case .sequence(let seq) = node else {
            wrongType(node, at: path, expected: expected)
            return nil
        }
        return Array(seq)
    }

    // MARK: - Scalars

    mutating func string(_ node: Node, at path: String, expected: String = "a string") -> String? {
        guard case .scalar(let scalar) = node, node.tagName == .str else {
            wrongType(node, at: path, expected: expected)
            return nil
        }
        return scalar.string
    }

    /// A non-empty string.
    mutating func name(_ node: Node, at path: String, expected: String = "a non-empty string") -> String? {
        guard let text = string(node, at: path, expected: expected) else { return nil }
        if text.isEmpty {
            add(path, "the value is empty", expected: expected)
            return nil
        }
        return text
    }

    mutating func int(_ node: Node, at path: String, expected: String = "an integer") -> Int? {
        guard node.tagName == .int, let value = node.int else {
            wrongType(node, at: path, expected: expected)
            return nil
        }
        return value
    }

    mutating func positiveInt(_ node: Node, at path: String) -> Int? {
        let expected = "a positive integer"
        guard let value = int(node, at: path, expected: expected) else { return nil }
        if value < 1 {
            add(path, "\(value) is not positive", expected: expected)
            return nil
        }
        return value
    }

    mutating func number(_ node: Node, at path: String, expected: String = "a number") -> Double? {
        let value: Double?
        switch node.tagName {
        case .int: value = node.int.map(Double.init)
        case .float: value = node.float
        default: value = nil
        }
        guard let value, value.isFinite else {
            wrongType(node, at: path, expected: expected)
            return nil
        }
        return value
    }

    /// A number in `range`, described in issues as `expected`.
    mutating func number(_ node: Node, at path: String, in range: ClosedRange<Double>, expected: String) -> Double? {
        guard let value = number(node, at: path, expected: expected) else { return nil }
        if !range.contains(value) {
            add(path, "\(Self.format(value)) is out of range", expected: expected)
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, at path: String) -> Bool? {
        guard node.tagName == .bool, let value = node.bool else {
            wrongType(node, at: path, expected: "true or false")
            return nil
        }
        return value
    }

    /// One of a fixed set of words (an enum's raw values), with a did-you-mean.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, at path: String, of type: T.Type,
                                                              what: String) -> T? where T.RawValue == String {
        let names = T.allCases.map(\.rawValue)
        let expected = "one of: " + names.joined(separator: ", ")
        guard let text = string(node, at: path, expected: expected) else { return nil }
        guard let value = T(rawValue: text) else {
            add(path, "unknown \(what) '\(text)'" + Suggestion.didYouMean(text, among: names), expected: expected)
            return nil
        }
        return value
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

extension Node {
    /// The resolved tag (`int`, `float`, `str`, …) of this node.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
