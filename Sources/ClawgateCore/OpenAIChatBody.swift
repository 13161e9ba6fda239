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

    /// Keys read here; every other key of the body goes to `ChatRequest.extra`.
    static let interpretedKeys: Set<String> = ["model", "messages", "stream", "stream_options", "max_tokens",
                                               "max_completion_tokens", "temperature", "top_p", "stop", "tools",
                                               "tool_choice", "n"]

    /// Validates a decoded request body. Errors are `bad_request` with `param` set to the field.
    public static func decode(_ body: JSONValue) throws(GatewayError) -> OpenAIChatBody {
        guard case .object(let o) = body else {
            throw .badRequest("the request body must be a JSON object, got \(body.typeName)")
        }
        let fields = ChatFields(prefix: "")
        func present(_ key: String) -> JSONValue? {
            guard let v = o[key], v != .null else { return nil }
            return v
        }
        guard let modelValue = present("model") else { throw fields.fail("model", "is required: the model alias to use") }
        let model = try fields.string(modelValue, "model")
        guard !model.isEmpty else { throw fields.fail("model", "must not be empty") }
        guard let messagesValue = present("messages") else {
            throw fields.fail("messages", "is required: a non-empty array of messages")
        }
        var request = ChatRequest(model: model, messages: try fields.messages(messagesValue), stream: false)
        if let v = present("stream") { request.stream = try fields.bool(v, "stream") }
        var includeUsage = false
        if let v = present("stream_options") {
            let options = try fields.object(v, "stream_options")
            if let u = options["include_usage"], u != .null {
                includeUsage = try fields.bool(u, "stream_options.include_usage")
            }
        }
        // max_completion_tokens is the newer name; it wins when both are sent.
        if let v = present("max_tokens") { request.maxTokens = try fields.positiveInt(v, "max_tokens") }
        if let v = present("max_completion_tokens") {
            request.maxTokens = try fields.positiveInt(v, "max_completion_tokens")
        }
        if let v = present("temperature") { request.temperature = try fields.number(v, "temperature", in: 0...2) }
        if let v = present("top_p") { request.topP = try fields.number(v, "top_p", in: 0...1) }
        if let v = present("stop") { request.stop = try fields.stop(v) }
        if let v = present("tools") { request.tools = try fields.tools(v) }
        if let v = present("tool_choice") { request.toolChoice = try fields.toolChoice(v) }
        if let v = present("n") {
            let n = try fields.positiveInt(v, "n")
            guard n == 1 else { throw fields.fail("n", "must be 1: this gateway returns one choice per request, got \(n)") }
        }
        for (key, value) in o where !interpretedKeys.contains(key) {
            request.extra[key] = value
        }
        return OpenAIChatBody(request: request, includeUsage: includeUsage)
    }
}
