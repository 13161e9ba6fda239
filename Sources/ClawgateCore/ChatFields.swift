/// Validation of the chat fields shared by the WebSocket `chat` frame and the OpenAI REST body.
/// Every error is a `bad_request` whose message names the field and the problem
/// ("chat.max_tokens must be a positive integer, got a string") and whose `param` is the field.
struct ChatFields {
    /// Put before field names in messages: `chat.` for frames, empty for REST bodies.
    let prefix: String

    static let roles = ["system", "user", "assistant", "tool", "developer"]

    func fail(_ field: String, _ problem: String) -> GatewayError {
        .badRequest("\(prefix)\(field) \(problem)", param: field)
    }

    static func got(_ value: JSONValue) -> String { "got \(value.typeName)" }

    // MARK: - Scalars

    func string(_ value: JSONValue, _ field: @autoclosure () -> String) throws(GatewayError) -> String {
        guard case .string(let s) = value else { throw fail(field(), "must be a string, \(Self.got(value))") }
        return s
    }

    func bool(_ value: JSONValue, _ field: @autoclosure () -> String) throws(GatewayError) -> Bool {
        guard case .bool(let b) = value else { throw fail(field(), "must be true or false, \(Self.got(value))") }
        return b
    }

    /// An integer-valued number at least `minimum`.
    func integer(_ value: JSONValue, _ field: @autoclosure () -> String, minimum: Int, what: String) throws(GatewayError) -> Int {
        guard case .number(let n) = value else { throw fail(field(), "must be \(what), \(Self.got(value))") }
        guard n == n.rounded(), n >= Double(minimum), n < 9.0e15 else {
            throw fail(field(), "must be \(what), got \(Self.format(n))")
        }
        return Int(n)
    }

    func positiveInt(_ value: JSONValue, _ field: @autoclosure () -> String) throws(GatewayError) -> Int {
        try integer(value, field(), minimum: 1, what: "a positive integer")
    }

    func number(_ value: JSONValue, _ field: @autoclosure () -> String, in range: ClosedRange<Double>) throws(GatewayError) -> Double {
        // Built only for the message: this runs on every request.
        func what() -> String { "a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))" }
        guard case .number(let n) = value else { throw fail(field(), "must be \(what()), \(Self.got(value))") }
        guard range.contains(n) else { throw fail(field(), "must be \(what()), got \(Self.format(n))") }
        return n
    }

    func nonNegativeNumber(_ value: JSONValue, _ field: @autoclosure () -> String) throws(GatewayError) -> Double {
        guard case .number(let n) = value else { throw fail(field(), "must be a non-negative number, \(Self.got(value))") }
        guard n >= 0 else { throw fail(field(), "must be a non-negative number, got \(Self.format(n))") }
        return n
    }

    func object(_ value: JSONValue, _ field: @autoclosure () -> String) throws(GatewayError) -> [String: JSONValue] {
        guard case .object(let o) = value else { throw fail(field(), "must be an object, \(Self.got(value))") }
        return o
    }

    static func format(_ n: Double) -> String {
        n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
    }

    // MARK: - Composite fields

    /// A non-empty array of OpenAI-shaped messages, returned as sent.
    func messages(_ value: JSONValue) throws(GatewayError) -> [JSONValue] {
        guard case .array(let list) = value else { throw fail("messages", "must be an array of messages, \(Self.got(value))") }
        guard !list.isEmpty else { throw fail("messages", "must not be empty") }
        for (i, message) in list.enumerated() { try validateMessage(message, at: "messages[\(i)]") }
        return list
    }

    /// `field` is built only when there is something to say: this runs on every message.
    func validateMessage(_ message: JSONValue, at field: @autoclosure () -> String) throws(GatewayError) {
        guard case .object(let o) = message else { throw fail(field(), "must be an object, \(Self.got(message))") }
        func roleField() -> String { "\(field()).role" }
        guard let roleValue = o["role"] else {
            throw fail(roleField(), "is required (one of \(Self.roles.joined(separator: ", ")))")
        }
        let role = try string(roleValue, roleField())
        guard Self.roles.contains(role) else {
            throw fail(roleField(), "must be one of \(Self.roles.joined(separator: ", ")), got '\(role)'")
        }
        func contentField() -> String { "\(field()).content" }
        let hasToolCalls = role == "assistant" && (o["tool_calls"].map { $0 != .null } ?? false)
        switch o["content"] {
        case .string?:
            break
        case .array(let parts)?:
            for (j, part) in parts.enumerated() {
                func partField() -> String { "\(contentField())[\(j)]" }
                guard case .object(let p) = part else { throw fail(partField(), "must be a content part object, \(Self.got(part))") }
                guard let type = p["type"] else { throw fail("\(partField()).type", "is required (e.g. text, image_url)") }
                _ = try string(type, "\(partField()).type")
            }
        case .null?, nil:
            guard hasToolCalls else {
                throw fail(contentField(), "is required: a string or an array of content parts"
                           + " (it may be null only on an assistant message with tool_calls)")
            }
        case let other?:
            throw fail(contentField(), "must be a string or an array of content parts, \(Self.got(other))")
        }
    }

    /// A string or an array of at most 4 strings.
    func stop(_ value: JSONValue) throws(GatewayError) -> JSONValue {
        switch value {
        case .string:
            return value
        case .array(let items):
            guard items.count <= 4 else { throw fail("stop", "must hold at most 4 strings, got \(items.count)") }
            for item in items where item.stringValue == nil {
                throw fail("stop", "must be a string or an array of strings, got an array holding \(item.typeName)")
            }
            return value
        default:
            throw fail("stop", "must be a string or an array of at most 4 strings, \(Self.got(value))")
        }
    }

    /// `none`, `auto`, `required`, or an object naming a tool; returned as sent.
    func toolChoice(_ value: JSONValue) throws(GatewayError) -> JSONValue {
        switch value {
        case .string, .object: return value
        default: throw fail("tool_choice", "must be a string (none, auto, required) or an object, \(Self.got(value))")
        }
    }

    /// An array of tool objects, returned as sent.
    func tools(_ value: JSONValue) throws(GatewayError) -> JSONValue {
        guard case .array(let items) = value else { throw fail("tools", "must be an array of tool objects, \(Self.got(value))") }
        for (i, item) in items.enumerated() where item.objectValue == nil {
            throw fail("tools[\(i)]", "must be an object, \(Self.got(item))")
        }
        return value
    }

    /// `route` `{strategy, weights{latency,accuracy,cost}, fallbacks[string]}` (PROTOCOL.md section 5).
    func route(_ value: JSONValue) throws(GatewayError) -> RouteOverride {
        let o = try object(value, "route")
        var route = RouteOverride()
        for key in o.keys where !["strategy", "weights", "fallbacks"].contains(key) {
            throw fail("route.\(key)", "is not a route field" + Suggestion.didYouMean(key, among: ["strategy", "weights", "fallbacks"])
                       + "; route holds strategy, weights and fallbacks")
        }
        if let s = o["strategy"], s != .null {
            let names = RoutingStrategy.allCases.map(\.rawValue)
            let text = try string(s, "route.strategy")
            guard let strategy = RoutingStrategy(rawValue: text) else {
                throw fail("route.strategy", "must be one of \(names.joined(separator: ", ")), got '\(text)'")
            }
            route.strategy = strategy
        }
        if let w = o["weights"], w != .null {
            let weights = try object(w, "route.weights")
            var result = RoutingWeights()
            let fields: [(String, WritableKeyPath<RoutingWeights, Double>)] =
                [("latency", \.latency), ("accuracy", \.accuracy), ("cost", \.cost)]
            for key in weights.keys where !fields.contains(where: { $0.0 == key }) {
                throw fail("route.weights.\(key)", "is not a weight; weights are latency, accuracy and cost")
            }
            for (key, path) in fields {
                if let v = weights[key] {
                    result[keyPath: path] = try nonNegativeNumber(v, "route.weights.\(key)")
                }
            }
            route.weights = result
        }
        if let f = o["fallbacks"], f != .null {
            guard case .array(let items) = f else { throw fail("route.fallbacks", "must be an array of alias names, \(Self.got(f))") }
            var names: [String] = []
            for item in items {
                guard case .string(let name) = item else {
                    throw fail("route.fallbacks", "must be an array of alias names, got an array holding \(item.typeName)")
                }
                names.append(name)
            }
            route.fallbacks = names
        }
        return route
    }
}
