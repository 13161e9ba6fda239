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
        writeChunkHead(&w)
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
        sendChunk(delta: { $0.raw("\"role\":\"assistant\",\"content\":\"\"") }, finishReason: nil)
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
                sendChunk(delta: { w in
                    w.raw("\"tool_calls\":")
                    w.value(v)
                }, finishReason: nil)
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
                x.respond(status: 200, contentType: "application/json", framedBody: completion(s),
                          headers: [("x-clawgate-overhead-ms", String(format2(s.overheadMs)))])
            }
        case .failure(let e):
            if x.headersQueued {
                // Mid-stream: say so in the stream (OpenAI's SDKs raise on an `error` event).
                var w = x.chunkWriter(capacity: e.message.utf8.count + 128)
                w.raw("data: ")
                HTTPExchange.writeError(e, to: &w)
                w.raw("\n\n")
                x.sendChunk(w)
                x.endStream()
            } else {
                x.respondError(e)
            }
        }
    }

    // MARK: - rendering

    /// `data: {"id":…,"object":"chat.completion.chunk",…,"choices":[{"index":0,"delta":{…},"finish_reason":…}]}`.
    private func sendChunk(delta fill: (inout JSONWriter) -> Void, finishReason: String?) {
        guard let x = exchange else { return }
        var w = x.chunkWriter(capacity: 256)
        writeChunkHead(&w)
        w.raw(",\"choices\":[{\"index\":0,\"delta\":{")
        fill(&w)
        w.raw("},\"finish_reason\":")
        if let finishReason { w.string(finishReason) } else { w.null() }
        w.raw(includeUsage ? "}],\"usage\":null}\n\n" : "}]}\n\n")
        x.sendChunk(w)
    }

    private func sendUsageChunk(_ u: Usage) {
        guard let x = exchange else { return }
        var w = x.chunkWriter(capacity: 256)
        writeChunkHead(&w)
        w.raw(",\"choices\":[],\"usage\":")
        w.usage(u)
        w.raw("}\n\n")
        x.sendChunk(w)
    }

    private func writeChunkHead(_ w: inout JSONWriter) {
        w.raw("data: {\"id\":")
        w.string(completionId)
        w.raw(",\"object\":\"chat.completion.chunk\",\"created\":")
        w.int(created)
        w.raw(",\"model\":")
        w.string(alias)
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

    /// The `chat.completion` object, with `CLWS_PRE` bytes of headroom in front.
    private func completion(_ s: CallSummary) -> [UInt8] {
        var w = JSONWriter(headroom: Int(CLWS_PRE), capacity: 320 + text.utf8.count)
        w.raw("{\"id\":")
        w.string(completionId)
        w.raw(",\"object\":\"chat.completion\",\"created\":")
        w.int(created)
        w.raw(",\"model\":")
        w.string(alias)
        w.raw(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":")
        if toolCalls.isEmpty || !text.isEmpty { w.string(text) } else { w.null() }
        if !toolCalls.isEmpty {
            w.raw(",\"tool_calls\":[")
            for (n, i) in toolCalls.keys.sorted().enumerated() {
                let c = toolCalls[i]!
                if n > 0 { w.raw(",") }
                w.raw("{\"id\":")
                w.string(c.id)
                w.raw(",\"type\":\"function\",\"function\":{\"name\":")
                w.string(c.name)
                w.raw(",\"arguments\":")
                w.string(c.arguments)
                w.raw("}}")
            }
            w.raw("]")
        }
        w.raw("},\"finish_reason\":")
        w.string(s.finishReason)
        w.raw("}],\"usage\":")
        w.usage(s.usage)
        w.raw("}")
        return w.bytes
    }
}

private func format2(_ ms: Double) -> String {
    var w = JSONWriter(capacity: 24)
    w.thousandths(ms, wholeAsDecimal: true)
    return String(decoding: w.bytes, as: UTF8.self)
}

@available(*, unavailable) extension OpenAIChatDoor: Sendable {}
