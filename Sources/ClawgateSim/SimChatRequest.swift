import CJansson

/// The parts of an OpenAI chat request the simulator looks at. Decoded with jansson
/// (Foundation's JSON is slow on Linux and the benchmark harness hammers this path).
struct SimChatRequest: Equatable, Sendable {
    var model: String
    var stream = false
    var includeUsage = false
    var maxTokens: Int?
    /// Text of the last `user` message (string content, or the text parts joined).
    var lastUserText = ""
    /// Deterministic stand-in for a tokenizer: all message text length / 4, rounded up, min 1.
    var promptTokens = 1

    /// A request OpenAI would reject with 400 `invalid_request_error`.
    struct Invalid: Error, Equatable {
        var message: String
        var param: String?
    }

    static func parse(_ body: [UInt8]) -> Result<SimChatRequest, Invalid> {
        var error = json_error_t()
        let parsed = body.withUnsafeBufferPointer { buf in
            json_loadb(UnsafeRawPointer(buf.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }, buf.count, 0, &error)
        }
        guard let root = parsed else {
            return .failure(Invalid(message: "We could not parse the JSON body of your request.", param: nil))
        }
        defer { json_decref(root) }
        guard root.pointee.type == JSON_OBJECT else {
            return .failure(Invalid(message: "The request body must be a JSON object.", param: nil))
        }
        guard let modelValue = string(json_object_get(root, "model")), !modelValue.isEmpty else {
            return .failure(Invalid(message: "you must provide a model parameter", param: "model"))
        }
        guard let messages = json_object_get(root, "messages"), messages.pointee.type == JSON_ARRAY else {
            return .failure(Invalid(message: "Missing required parameter: 'messages'.", param: "messages"))
        }
        var request = SimChatRequest(model: modelValue)
        request.stream = json_object_get(root, "stream")?.pointee.type == JSON_TRUE
        if let options = json_object_get(root, "stream_options"), options.pointee.type == JSON_OBJECT {
            request.includeUsage = json_object_get(options, "include_usage")?.pointee.type == JSON_TRUE
        }
        for key in ["max_completion_tokens", "max_tokens"] {
            if let v = json_object_get(root, key), v.pointee.type == JSON_INTEGER {
                request.maxTokens = Int(json_integer_value(v))
                break
            }
        }
        var totalChars = 0
        for i in 0..<json_array_size(messages) {
            guard let message = json_array_get(messages, i), message.pointee.type == JSON_OBJECT else {
                return .failure(Invalid(message: "Invalid type for 'messages[\(i)]': expected an object.", param: "messages[\(i)]"))
            }
            let text = contentText(json_object_get(message, "content"))
            totalChars += text.utf8.count
            if string(json_object_get(message, "role")) == "user" { request.lastUserText = text }
        }
        request.promptTokens = max(1, (totalChars + 3) / 4)
        return .success(request)
    }

    private static func string(_ value: UnsafeMutablePointer<json_t>?) -> String? {
        guard let value, value.pointee.type == JSON_STRING, let c = json_string_value(value) else { return nil }
        return String(cString: c)
    }

    /// Content is a string or an array of parts; only `text` parts carry text.
    private static func contentText(_ value: UnsafeMutablePointer<json_t>?) -> String {
        guard let value else { return "" }
        if let s = string(value) { return s }
        guard value.pointee.type == JSON_ARRAY else { return "" }
        var out = ""
        for i in 0..<json_array_size(value) {
            if let part = json_array_get(value, i), let t = string(json_object_get(part, "text")) { out += t }
        }
        return out
    }
}
