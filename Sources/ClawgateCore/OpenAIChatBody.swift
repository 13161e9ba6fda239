/// The body of `POST /v1/chat/completions` (OpenAI's chat request), validated and turned into
/// the internal `ChatRequest`. Messages are checked by the same code as the WebSocket `chat`
/// frame. Parameters the gateway does not interpret go to `ChatRequest.extra` and are passed
/// through to OpenAI-compatible upstreams.
public struct OpenAIChatBody: Sendable, Equatable {
    public var request: ChatRequest
    /// `stream_options.include_usage`: send a final chunk carrying usage when streaming.
    public var includeUsage: Bool

    public init(request: ChatRequest, includeUsage: Bool = false) {
        self.request = request
        self.includeUsage = includeUsage
    }

    /// Validates a decoded request body. Errors are `bad_request` with `param` set to the field.
    public static func decode(_ body: JSONValue) throws(GatewayError) -> OpenAIChatBody {
        guard case .object(let o) = body else {
            throw .badRequest("the request body must be a JSON object, got \(body.typeName)")
        }
        let fields = ChatFields(prefix: "")
        // One pass over the body's members (no hashed lookup per known key: this runs on every
        // request); null counts as absent; every key not read here goes to `extra`. Validation
        // below keeps the documented order.
        var model, messages, stream, streamOptions, maxTokens, maxCompletionTokens, temperature, topP, stop, tools,
            toolChoice, n: JSONValue?
        var extra: [String: JSONValue] = [:]
        for (key, value) in o {
            let v: JSONValue? = value == .null ? nil : value
            switch key {
            case "model": model = v
            case "messages": messages = v
            case "stream": stream = v
            case "stream_options": streamOptions = v
            case "max_tokens": maxTokens = v
            case "max_completion_tokens": maxCompletionTokens = v
            case "temperature": temperature = v
            case "top_p": topP = v
            case "stop": stop = v
            case "tools": tools = v
            case "tool_choice": toolChoice = v
            case "n": n = v
            default: extra[key] = value
            }
        }
        guard let modelValue = model else { throw fields.fail("model", "is required: the model alias to use") }
        let modelName = try fields.string(modelValue, "model")
        guard !modelName.isEmpty else { throw fields.fail("model", "must not be empty") }
        guard let messagesValue = messages else {
            throw fields.fail("messages", "is required: a non-empty array of messages")
        }
        var request = ChatRequest(model: modelName, messages: try fields.messages(messagesValue), stream: false)
        if let v = stream { request.stream = try fields.bool(v, "stream") }
        var includeUsage = false
        if let v = streamOptions {
            let options = try fields.object(v, "stream_options")
            if let u = options["include_usage"], u != .null {
                includeUsage = try fields.bool(u, "stream_options.include_usage")
            }
        }
        // max_completion_tokens is the newer name; it wins when both are sent.
        if let v = maxTokens { request.maxTokens = try fields.positiveInt(v, "max_tokens") }
        if let v = maxCompletionTokens { request.maxTokens = try fields.positiveInt(v, "max_completion_tokens") }
        if let v = temperature { request.temperature = try fields.number(v, "temperature", in: 0...2) }
        if let v = topP { request.topP = try fields.number(v, "top_p", in: 0...1) }
        if let v = stop { request.stop = try fields.stop(v) }
        if let v = tools { request.tools = try fields.tools(v) }
        if let v = toolChoice { request.toolChoice = try fields.toolChoice(v) }
        if let v = n {
            let count = try fields.positiveInt(v, "n")
            guard count == 1 else { throw fields.fail("n", "must be 1: this gateway returns one choice per request, got \(count)") }
        }
        request.extra = extra
        return OpenAIChatBody(request: request, includeUsage: includeUsage)
    }
}
