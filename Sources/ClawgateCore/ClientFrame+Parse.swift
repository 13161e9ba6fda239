extension ClientFrame {
    /// Frame types of PROTOCOL.md section 3, client to gateway.
    public static let frameTypes = ["hello", "chat", "speech", "image", "cancel", "subscribe", "unsubscribe", "ping"]

    /// Fields a `chat` frame may carry; any other is refused with a did-you-mean.
    public static let chatFields = ["type", "id", "model", "messages", "prompt", "stream", "max_tokens", "temperature",
                                    "top_p", "stop", "tools", "tool_choice", "route", "cache", "metadata"]

    /// The longest request `id`, in UTF-8 bytes.
    public static let maxIdBytes = 64

    /// Validates one decoded client frame (PROTOCOL.md section 3). Every failure is a
    /// `bad_request` that names the field and the problem; `FrameError.id` is the frame's `id`
    /// when it was a usable one, so the error frame can carry it.
    public static func parse(_ value: JSONValue) throws(FrameError) -> ClientFrame {
        guard case .object(let object) = value else {
            throw FrameError(id: nil, error: .badRequest("a frame must be a JSON object, got \(value.typeName)"))
        }
        let usableId = object["id"]?.stringValue.flatMap { isValidId($0) ? $0 : nil }
        do {
            return try parse(object)
        } catch {
            throw FrameError(id: usableId, error: error)
        }
    }

    static func isValidId(_ id: String) -> Bool { !id.isEmpty && id.utf8.count <= maxIdBytes }

    private static func parse(_ o: [String: JSONValue]) throws(GatewayError) -> ClientFrame {
        // Only error messages list the types: joined on every frame it was ~6 % of a chat start.
        var types: String { frameTypes.joined(separator: ", ") }
        guard let typeValue = o["type"] else {
            throw .badRequest("a frame needs a string 'type' (one of \(types))", param: "type")
        }
        guard case .string(let type) = typeValue else {
            throw .badRequest("type must be a string, got \(typeValue.typeName) (one of \(types))", param: "type")
        }
        let fields = ChatFields(prefix: "\(type).")
        switch type {
        case "chat":
            let id = try requestId(o, fields, required: false)
            return .chat(id: id, request: try chatRequest(o, fields))
        case "speech", "image":
            return .unsupported(type: type, id: try requestId(o, fields, required: false))
        case "cancel":
            guard let id = try requestId(o, fields, required: true) else { preconditionFailure("required id") }
            return .cancel(id: id)
        case "ping":
            return .ping(.object(o))
        case "subscribe":
            let topic = try self.topic(o, fields)
            var interval: Int?
            if let value = o["interval_ms"], value != .null {
                interval = try fields.integer(value, "interval_ms", minimum: 100, what: "an integer of at least 100")
            }
            return .subscribe(topic: topic, intervalMs: interval)
        case "unsubscribe":
            return .unsubscribe(topic: try topic(o, fields))
        case "hello":
            return try hello(o, fields)
        default:
            throw .badRequest("unknown frame type '\(type)'" + Suggestion.didYouMean(type, among: frameTypes)
                              + "; valid types: \(types)", param: "type")
        }
    }

    private static func requestId(_ o: [String: JSONValue], _ fields: ChatFields,
                                  required: Bool) throws(GatewayError) -> String? {
        guard let value = o["id"], value != .null else {
            if required { throw fields.fail("id", "is required: the id of the request to act on") }
            return nil
        }
        let id = try fields.string(value, "id")
        guard isValidId(id) else {
            throw fields.fail("id", "must be 1 to \(maxIdBytes) bytes of UTF-8, got \(id.utf8.count) bytes")
        }
        return id
    }

    private static func topic(_ o: [String: JSONValue], _ fields: ChatFields) throws(GatewayError) -> SubscriptionTopic {
        let names = SubscriptionTopic.allCases.map(\.rawValue).joined(separator: ", ")
        guard let value = o["topic"] else { throw fields.fail("topic", "is required (one of \(names))") }
        let text = try fields.string(value, "topic")
        guard let topic = SubscriptionTopic(rawValue: text) else {
            throw fields.fail("topic", "must be one of \(names), got '\(text)'")
        }
        return topic
    }

    private static func hello(_ o: [String: JSONValue], _ fields: ChatFields) throws(GatewayError) -> ClientFrame {
        var token: String?
        if let value = o["token"], value != .null { token = try fields.string(value, "token") }
        var resume: ResumeRequest?
        if let value = o["resume"], value != .null {
            let r = try fields.object(value, "resume")
            guard let session = r["session"] else { throw fields.fail("resume.session", "is required: the session to resume") }
            guard let lastSeq = r["last_seq"] else {
                throw fields.fail("resume.last_seq", "is required: the seq of the last frame received (0 for none)")
            }
            resume = ResumeRequest(
                session: try fields.string(session, "resume.session"),
                lastSeq: try fields.integer(lastSeq, "resume.last_seq", minimum: 0, what: "a non-negative integer"))
        }
        return .hello(token: token, resume: resume)
    }

    private static func chatRequest(_ o: [String: JSONValue], _ fields: ChatFields) throws(GatewayError) -> ChatRequest {
        // Sorted only when there is something to report, so the message names the same field
        // every time; the common frame pays one set lookup per key.
        if !o.keys.allSatisfy(chatFields.contains) {
            for key in o.keys.sorted() where !chatFields.contains(key) {
                throw .badRequest("unknown field '\(key)' in chat frame" + Suggestion.didYouMean(key, among: chatFields),
                                  param: key)
            }
        }
        // One pass over the frame's few members instead of a hashed lookup per known field
        // (13 of them, ~4,400 instructions a chat start), as `OpenAIChatBody.decode` reads a
        // body; null counts as absent; the checks below keep their order.
        var messagesValue, prompt, model, stream, maxTokens, temperature, topP, stop, tools, toolChoice, route, cache,
            metadata: JSONValue?
        for (key, value) in o {
            if case .null = value { continue }
            switch key {
            case "messages": messagesValue = value
            case "prompt": prompt = value
            case "model": model = value
            case "stream": stream = value
            case "max_tokens": maxTokens = value
            case "temperature": temperature = value
            case "top_p": topP = value
            case "stop": stop = value
            case "tools": tools = value
            case "tool_choice": toolChoice = value
            case "route": route = value
            case "cache": cache = value
            case "metadata": metadata = value
            default: break  // `type`, `id`; unknown members were refused above
            }
        }
        let messages: [JSONValue]
        switch (messagesValue, prompt) {
        case (let m?, nil):
            messages = try fields.messages(m)
        case (nil, let p?):
            let prompt = try fields.string(p, "prompt")
            guard !prompt.isEmpty else { throw fields.fail("prompt", "must not be empty") }
            messages = [["role": "user", "content": .string(prompt)]]
        case (.some, .some):
            throw .badRequest("a chat frame takes messages or prompt, not both", param: "messages")
        case (nil, nil):
            throw .badRequest("a chat frame needs messages (an array) or prompt (a string)", param: "messages")
        }
        var request = ChatRequest(model: try model.map { v throws(GatewayError) in try fields.string(v, "model") } ?? "",
                                  messages: messages)
        if let v = stream { request.stream = try fields.bool(v, "stream") }
        if let v = maxTokens { request.maxTokens = try fields.positiveInt(v, "max_tokens") }
        if let v = temperature { request.temperature = try fields.number(v, "temperature", in: 0...2) }
        if let v = topP { request.topP = try fields.number(v, "top_p", in: 0...1) }
        if let v = stop { request.stop = try fields.stop(v) }
        if let v = tools { request.tools = try fields.tools(v) }
        if let v = toolChoice { request.toolChoice = try fields.toolChoice(v) }
        if let v = route { request.route = try fields.route(v) }
        if let v = cache { _ = try fields.bool(v, "cache") }
        if let v = metadata { request.metadata = .object(try fields.object(v, "metadata")) }
        return request
    }
}
