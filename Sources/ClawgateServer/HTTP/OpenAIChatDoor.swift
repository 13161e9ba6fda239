import CJansson
import CLws
import ClawgateCore
import ClawgateProviders

/// `POST /v1/chat/completions`: OpenAI's request in, OpenAI's response out — a
/// `chat.completion` object, or with `stream: true` a `text/event-stream` of
/// `chat.completion.chunk` events ending in `data: [DONE]`. Only touched on the lws service
/// thread.
final class OpenAIChatDoor: CallSink, HTTPExchangeHandler {
    private weak var exchange: HTTPExchange?
    private var call: Call?
    private let streaming: Bool
    private let includeUsage: Bool
    private let alias: String
    private let completionId: String
    private let created = WallClock.unixSeconds()
    private var text = ""
    /// `data: {"id":…,"choices":[{"index":0,"delta":{"content":` — the same for every content
    /// chunk of this response, rendered once.
    private lazy var contentChunkPrefix: [UInt8] = {
        var w = JSONWriter()
        w.raw("data: {\"id\":")
        w.string(completionId)
        w.raw(",\"object\":\"chat.completion.chunk\",\"created\":")
        w.int(created)
        w.raw(",\"model\":")
        w.string(alias)
        w.raw(",\"choices\":[{\"index\":0,\"delta\":{\"content\":")
        return w.bytes
    }()
    private var toolCalls: [Int: (id: String, name: String, arguments: String)] = [:]

    static func handle(_ x: HTTPExchange, gateway: Gateway) {
        let parsed: OpenAIChatBody
        do {
            let json = try Jansson.parse(x.body).get()
            parsed = try OpenAIChatBody.decode(json)
        } catch {
            x.respondError(error)
            return
        }
        if let e = gateway.admitCall() {
            gateway.recordRefused(model: parsed.request.model, e)
            x.respondError(e)
            return
        }
        let plan: RoutePlan
        do {
            plan = try gateway.router.plan(model: parsed.request.model, route: parsed.request.route)
        } catch {
            gateway.recordRefused(model: parsed.request.model, error)
            x.respondError(error)
            return
        }
        let door = OpenAIChatDoor(exchange: x, streaming: parsed.request.stream, includeUsage: parsed.includeUsage,
                                  alias: plan.alias)
        x.handler = door
        let call = Call(id: x.requestId, request: parsed.request, plan: plan, gateway: gateway, sink: door,
                        receivedAt: x.receivedAt)
        door.call = call
        call.start()
    }

    private init(exchange: HTTPExchange, streaming: Bool, includeUsage: Bool, alias: String) {
        self.exchange = exchange
        self.streaming = streaming
        self.includeUsage = includeUsage
        self.alias = alias
        completionId = "chatcmpl-" + exchange.requestId
    }

    // MARK: - HTTPExchangeHandler

    func exchangeClosed(_ exchange: HTTPExchange) {
        // A REST client that disconnects aborts its upstream transfer at once.
        call?.cancel(GatewayError(.cancelled, "the client disconnected"), notify: false)
        call = nil
    }

    // MARK: - CallSink

    var isCongested: Bool { exchange?.isCongested ?? false }

    func callPaused(_ call: Call) {
        guard let x = exchange else { return }
        x.gateway.flow.paused(pendingBytes: x.pendingBytes)
        x.onDrained = { [weak call, unowned x] in
            x.gateway.flow.resumed()
            call?.resumeIfPaused()
        }
    }

    func callCommitted(_ call: Call, deployment: Deployment) {
        guard streaming, let x = exchange else { return }
        x.beginStream(status: 200, contentType: "text/event-stream")
        sendChunk(delta: { d in
            d.set("role", "assistant")
            d.set("content", "")
        }, finishReason: nil)
    }

    func call(_ call: Call, emitted event: StreamEvent) {
        switch event {
        case .text(let s):
            if streaming {
                guard let x = exchange else { return }
                var w = x.chunkWriter(capacity: contentChunkPrefix.count + s.utf8.count + 48)
                w.raw(contentChunkPrefix)
                w.string(s)
                w.raw(includeUsage ? "},\"finish_reason\":null}],\"usage\":null}\n\n" : "},\"finish_reason\":null}]}\n\n")
                x.sendChunk(w)
            } else {
                text += s
            }
        case .toolCalls(let v):
            if streaming {
                sendChunk(delta: { $0.set("tool_calls", v) }, finishReason: nil)
            } else {
                accumulate(toolCalls: v)
            }
        case .usage, .finish, .error:
            break
        }
    }

    func callFinished(_ call: Call, result: Result<CallSummary, GatewayError>) {
        self.call = nil
        guard let x = exchange else { return }
        switch result {
        case .success(let s):
            if streaming {
                sendChunk(delta: { _ in }, finishReason: s.finishReason)
                if includeUsage { sendUsageChunk(s.usage) }
                x.sendChunk(Array("data: [DONE]\n\n".utf8))
                x.endStream()
            } else {
                x.respondJSON(status: 200, completion(s), headers: [("x-clawgate-overhead-ms", String(format2(s.overheadMs)))])
            }
        case .failure(let e):
            if x.headersQueued {
                // Mid-stream: say so in the stream (OpenAI's SDKs raise on an `error` event).
                let err = JanssonObject()
                err.set("message", e.message)
                err.set("type", e.code.openAIType)
                err.set("code", e.code.rawValue)
                err.setNull("param")
                let o = JanssonObject()
                o.set("error", owned: err.raw)
                x.sendChunk(Array("data: ".utf8) + o.dump() + Array("\n\n".utf8))
                x.endStream()
            } else {
                x.respondError(e)
            }
        }
    }

    // MARK: - rendering

    private func chunkObject() -> JanssonObject {
        let o = JanssonObject()
        o.set("id", completionId)
        o.set("object", "chat.completion.chunk")
        o.set("created", created)
        o.set("model", alias)
        return o
    }

    private func sendChunk(delta fill: (JanssonObject) -> Void, finishReason: String?) {
        let o = chunkObject()
        let delta = JanssonObject()
        fill(delta)
        let choice = JanssonObject()
        choice.set("index", 0)
        choice.set("delta", owned: delta.raw)
        if let finishReason { choice.set("finish_reason", finishReason) } else { choice.setNull("finish_reason") }
        o.set("choices", owned: {
            let a = json_array()!
            json_array_append_new(a, choice.raw)
            return a
        }())
        if includeUsage { o.setNull("usage") }
        exchange?.sendChunk(Array("data: ".utf8) + o.dump() + Array("\n\n".utf8))
    }

    private func sendUsageChunk(_ u: Usage) {
        let o = chunkObject()
        o.set("choices", JSONValue.array([]))
        o.set("usage", usageValue(u))
        exchange?.sendChunk(Array("data: ".utf8) + o.dump() + Array("\n\n".utf8))
    }

    private func usageValue(_ u: Usage) -> JSONValue {
        var v: [String: JSONValue] = [
            "prompt_tokens": .number(Double(u.promptTokens)),
            "completion_tokens": .number(Double(u.completionTokens)),
            "total_tokens": .number(Double(u.totalTokens)),
        ]
        if u.estimated { v["estimated"] = true }
        return .object(v)
    }

    private func accumulate(toolCalls v: JSONValue) {
        for entry in v.arrayValue ?? [] {
            let index = Int(entry["index"]?.numberValue ?? 0)
            var current = toolCalls[index] ?? (id: "", name: "", arguments: "")
            if let id = entry["id"]?.stringValue { current.id = id }
            if let name = entry["function"]?["name"]?.stringValue { current.name += name }
            if let args = entry["function"]?["arguments"]?.stringValue { current.arguments += args }
            toolCalls[index] = current
        }
    }

    private func completion(_ s: CallSummary) -> JanssonObject {
        let o = JanssonObject()
        o.set("id", completionId)
        o.set("object", "chat.completion")
        o.set("created", created)
        o.set("model", alias)
        var message: [String: JSONValue] = ["role": "assistant", "content": toolCalls.isEmpty || !text.isEmpty ? .string(text) : .null]
        if !toolCalls.isEmpty {
            message["tool_calls"] = .array(toolCalls.keys.sorted().map { i in
                let c = toolCalls[i]!
                return ["id": .string(c.id), "type": "function",
                        "function": ["name": .string(c.name), "arguments": .string(c.arguments)]]
            })
        }
        o.set("choices", JSONValue.array([["index": 0, "message": .object(message), "finish_reason": .string(s.finishReason)]]))
        o.set("usage", usageValue(s.usage))
        return o
    }
}

private func format2(_ ms: Double) -> String {
    let v = (ms * 1000).rounded() / 1000
    return "\(v)"
}

@available(*, unavailable) extension OpenAIChatDoor: Sendable {}
