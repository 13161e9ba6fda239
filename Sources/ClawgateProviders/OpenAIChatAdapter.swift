import CJansson
import ClawgateCore

/// OpenAI Chat Completions, spoken by OpenAI itself and by every OpenAI-compatible server
/// (vLLM, llama.cpp, LM Studio, Ollama's /v1). The upstream request always streams, with
/// `stream_options.include_usage`, so time to first token and usage are known for every call;
/// the ingress decides whether its client sees a stream.
public struct OpenAIChatAdapter: ProviderAdapter {
    public init() {}

    public func makeRequest(_ request: ChatRequest, deployment: Deployment, provider: ProviderConfig) -> UpstreamRequest {
        var w = JSONWriter(capacity: 512)
        w.raw("{\"model\":")
        w.string(deployment.model)
        w.raw(",\"messages\":")
        w.value(.array(request.messages))
        w.raw(",\"stream\":true,\"stream_options\":{\"include_usage\":true}")
        if let v = request.maxTokens { w.raw(",\"max_tokens\":"); w.int(v) }
        if let v = request.temperature { w.raw(",\"temperature\":"); w.number(v) }
        if let v = request.topP { w.raw(",\"top_p\":"); w.number(v) }
        if let v = request.stop { w.raw(",\"stop\":"); w.value(v) }
        if let v = request.tools { w.raw(",\"tools\":"); w.value(v) }
        if let v = request.toolChoice { w.raw(",\"tool_choice\":"); w.value(v) }
        // Client passthrough; the fields the gateway owns, written above, always win.
        // `metadata` and `route` are the gateway's own and never reach `extra`.
        for (k, v) in request.extra where !Self.ownedKeys.contains(k) {
            w.raw(",")
            w.string(k)
            w.raw(":")
            w.value(v)
        }
        w.raw("}")
        var headers = ["Content-Type: application/json", "Accept: text/event-stream"]
        if let key = provider.apiKey, !key.isEmpty { headers.append("Authorization: Bearer \(key)") }
        return UpstreamRequest(url: provider.baseURL + "/chat/completions", headers: headers, body: w.bytes)
    }

    static let ownedKeys: Set<String> = ["model", "messages", "stream", "stream_options", "max_tokens", "temperature",
                                         "top_p", "stop", "tools", "tool_choice"]

    public func makeStreamDecoder() -> any StreamDecoder { OpenAIStreamDecoder() }

    public func errorMessage(status: Int, body: [UInt8]) -> String {
        if case .success(let v) = Jansson.parse(body) {
            if let m = v["error"]?["message"]?.stringValue { return m }
            if let m = v["error"]?.stringValue { return m }       // some compatible servers
            if let m = v["message"]?.stringValue { return m }
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return text.isEmpty ? "HTTP \(status)" : text
    }
}

/// Decodes `data: {chat.completion.chunk}` events. Works on jansson values directly: this is
/// the hottest path in the gateway.
public final class OpenAIStreamDecoder: StreamDecoder {
    private var sse = SSEParser()
    private var prefix = RepeatedPrefix()
    public private(set) var sawEnd = false

    public init() {}

    public func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        sse.feedRaw(bytes) { _, data in
            decode(data, emit)
        }
    }

    /// The fast path for the chunks that make up nearly every stream (text, finish, usage):
    /// read with `JSONScanner`, nothing built. Returns false — and emits nothing — for anything
    /// else (tool calls, errors, malformed JSON), which the jansson path then decodes. A chunk
    /// that starts with the bytes `prefix` holds (the members before `choices` of the last
    /// chunk read here) is read from where they end; a chunk read in full leaves its own.
    static func decodeCommon(_ data: UnsafeRawBufferPointer, prefix: inout RepeatedPrefix,
                             _ emit: (StreamEvent) -> Void) -> Bool {
        var s = JSONScanner(data)
        var text: String?
        var finish: String?
        var usage: Usage?
        var unusual = false
        var firstOfInterest = -1
        func member(_ s: inout JSONScanner, _ key: UnsafeRawBufferPointer) {
            if JSONScanner.key(key, is: "choices") {
                s.array { s, index in
                    guard index == 0 else { return }
                    s.object { s, k in
                        if JSONScanner.key(k, is: "delta") {
                            s.object { s, dk in
                                if JSONScanner.key(dk, is: "content") {
                                    if !s.null() { text = s.string() }
                                } else if JSONScanner.key(dk, is: "tool_calls") {
                                    if !s.null() { unusual = true }
                                }
                            }
                        } else if JSONScanner.key(k, is: "finish_reason") {
                            if !s.null() { finish = s.string() }
                        }
                    }
                }
            } else if JSONScanner.key(key, is: "usage") {
                if !s.null() {
                    var u = Usage(promptTokens: 0, completionTokens: 0)
                    s.object { s, uk in
                        if JSONScanner.key(uk, is: "prompt_tokens") {
                            u.promptTokens = s.int() ?? 0
                        } else if JSONScanner.key(uk, is: "completion_tokens") {
                            u.completionTokens = s.int() ?? 0
                        }
                    }
                    usage = u
                }
            } else if JSONScanner.key(key, is: "error") {
                if !s.null() { unusual = true }
            } else {
                return  // skipped: it may lie in the remembered prefix
            }
            if firstOfInterest < 0 { firstOfInterest = s.offset(of: key) }
        }
        let resumed = prefix.match(data)
        if let at = resumed {
            s.object(resumingAt: at, member)
        } else {
            guard s.peek() == .object else { return false }
            s.object(member)
        }
        guard !unusual, !s.failed, s.atEnd() else { return false }
        if resumed == nil { prefix.remember(data, length: firstOfInterest) }
        if let text, !text.isEmpty { emit(.text(text)) }
        if let finish { emit(.finish(finish)) }
        if let usage { emit(.usage(usage)) }
        return true
    }

    private func decode(_ data: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        if data.count == 6, data.elementsEqual("[DONE]".utf8) {
            sawEnd = true
            return
        }
        if !Self.decodeCommon(data, prefix: &prefix, emit) { Self.decodeWithJansson(data, emit) }
    }

    /// Decodes any chunk, the authority the fast path falls back to.
    static func decodeWithJansson(_ data: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        var message = ""
        guard let root = Jansson.load(data, error: &message) else {
            emit(.error(GatewayError(.upstreamError, "provider sent a stream event that is not JSON: \(message)")))
            return
        }
        defer { json_decref(root) }
        guard root.pointee.type == JSON_OBJECT else { return }
        if let err = json_object_get(root, "error"), err.pointee.type != JSON_NULL {
            let text = Jansson.string(json_object_get(err, "message")) ?? Jansson.string(err) ?? "unknown error"
            emit(.error(GatewayError(.upstreamError, "provider error in stream: \(text)")))
            return
        }
        if let choices = json_object_get(root, "choices"), json_array_size(choices) > 0,
           let choice = json_array_get(choices, 0) {
            if let delta = json_object_get(choice, "delta") {
                if let content = json_object_get(delta, "content"), content.pointee.type == JSON_STRING,
                   json_string_length(content) > 0, let text = Jansson.string(content) {
                    emit(.text(text))
                }
                if let calls = json_object_get(delta, "tool_calls"), calls.pointee.type == JSON_ARRAY,
                   json_array_size(calls) > 0 {
                    emit(.toolCalls(Jansson.value(of: calls)))
                }
            }
            if let reason = Jansson.string(json_object_get(choice, "finish_reason")) {
                emit(.finish(reason))
            }
        }
        if let usage = json_object_get(root, "usage"), usage.pointee.type == JSON_OBJECT {
            let prompt = Jansson.int(json_object_get(usage, "prompt_tokens")) ?? 0
            let completion = Jansson.int(json_object_get(usage, "completion_tokens")) ?? 0
            emit(.usage(Usage(promptTokens: prompt, completionTokens: completion)))
        }
    }
}
