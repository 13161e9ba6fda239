/// Renders one reply's bytes in OpenAI's Chat Completions wire format.
/// The per-reply parts (id, created, model, trailing `usage:null`) are rendered once in `init`,
/// so a content event costs a few appends and no allocation: this is what lets the simulator
/// out-run the gateway in benchmarks.
struct OpenAIChunkWriter {
    let reply: SimulatedReply
    let id: String
    let created: Int
    /// `data: {"id":...,"choices":[{"index":0,"delta":`
    private let head: [UInt8]
    /// `,"logprobs":null,"finish_reason":null}]` (+ `,"usage":null`) `}\n\n`
    private let openTail: [UInt8]
    private let wordHead: [UInt8]
    private let wordTailSpace: [UInt8]
    private let wordTailLast: [UInt8]

    static let fingerprint = "fp_sim"
    static let doneEvent = Array("data: [DONE]\n\n".utf8)
    static let midStreamErrorEvent = Array(
        "data: {\"error\":{\"message\":\"simulated mid-stream failure\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n".utf8)

    init(reply: SimulatedReply, id: String, created: Int) {
        self.reply = reply
        self.id = id
        self.created = created
        // Built with plain appends into reserved arrays: per reply, this was ~9,000 instructions
        // of string interpolation and array concatenation.
        var h: [UInt8] = []
        h.reserveCapacity(160 + reply.model.utf8.count)
        JSONBytes.append("data: ", to: &h)
        Self.appendEnvelope(id: id, created: created, model: reply.model, object: "chat.completion.chunk", to: &h)
        JSONBytes.append(",\"choices\":[{\"index\":0,\"delta\":", to: &h)
        head = h
        var t = Self.tailOpen
        if case .complete(includeUsage: true) = reply.ending { t = Self.tailOpenNullUsage }
        openTail = t
        h.append(contentsOf: Self.wordOpen)
        wordHead = h
        wordTailSpace = Self.wordCloseSpace + t
        wordTailLast = Self.wordClose + t
    }

    private static let tailOpen = Array(",\"logprobs\":null,\"finish_reason\":null}]}\n\n".utf8)
    private static let tailOpenNullUsage = Array(",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n".utf8)
    private static let wordOpen = Array("{\"content\":\"w".utf8)
    private static let wordCloseSpace = Array(" \"}".utf8)
    private static let wordClose = Array("\"}".utf8)

    /// `"id":..,"object":..,"created":..,"model":..,"system_fingerprint":..` inside an open `{`.
    static func appendEnvelope(id: String, created: Int, model: String, object: String, to out: inout [UInt8]) {
        JSONBytes.append("{\"id\":", to: &out)
        JSONBytes.appendQuoted(id, to: &out)
        JSONBytes.append(",\"object\":\"", to: &out)
        JSONBytes.append(object, to: &out)
        JSONBytes.append("\",\"created\":", to: &out)
        JSONBytes.appendDecimal(created, to: &out)
        JSONBytes.append(",\"model\":", to: &out)
        JSONBytes.appendQuoted(model, to: &out)
        JSONBytes.append(",\"system_fingerprint\":\"", to: &out)
        JSONBytes.append(fingerprint, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the SSE event for `step`; `.endOfBody` and `.cut` have no bytes of their own.
    func append(_ step: StreamStep, to out: inout [UInt8]) {
        switch step {
        case .role:
            out.append(contentsOf: head)
            if case .toolCall(let callID, let name, _) = reply.content {
                JSONBytes.append("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":", to: &out)
                JSONBytes.appendQuoted(callID, to: &out)
                JSONBytes.append(",\"type\":\"function\",\"function\":{\"name\":", to: &out)
                JSONBytes.appendQuoted(name, to: &out)
                JSONBytes.append(",\"arguments\":\"\"}}],\"refusal\":null}", to: &out)
            } else {
                JSONBytes.append("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", to: &out)
            }
            out.append(contentsOf: openTail)
        case .content(let i):
            switch reply.content {
            case .words(let n):
                out.append(contentsOf: wordHead)
                JSONBytes.appendDecimal(i, to: &out)
                out.append(contentsOf: i == n - 1 ? wordTailLast : wordTailSpace)
            case .pieces(let pieces):
                out.append(contentsOf: head)
                JSONBytes.append("{\"content\":", to: &out)
                JSONBytes.appendQuoted(pieces[i], to: &out)
                out.append(UInt8(ascii: "}"))
                out.append(contentsOf: openTail)
            case .toolCall(_, _, let fragments):
                out.append(contentsOf: head)
                JSONBytes.append("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":", to: &out)
                JSONBytes.appendQuoted(fragments[i], to: &out)
                JSONBytes.append("}}]}", to: &out)
                out.append(contentsOf: openTail)
            }
        case .finish:
            out.append(contentsOf: head)
            JSONBytes.append("{},\"logprobs\":null,\"finish_reason\":", to: &out)
            JSONBytes.appendQuoted(reply.finishReason, to: &out)
            JSONBytes.append("}]", to: &out)
            if case .complete(includeUsage: true) = reply.ending { JSONBytes.append(",\"usage\":null", to: &out) }
            JSONBytes.append("}\n\n", to: &out)
        case .usage:
            JSONBytes.append("data: ", to: &out)
            Self.appendEnvelope(id: id, created: created, model: reply.model, object: "chat.completion.chunk", to: &out)
            JSONBytes.append(",\"choices\":[],\"usage\":", to: &out)
            appendUsage(to: &out)
            JSONBytes.append("}\n\n", to: &out)
        case .done:
            out.append(contentsOf: Self.doneEvent)
        case .midStreamError:
            out.append(contentsOf: Self.midStreamErrorEvent)
        case .endOfBody, .cut:
            break
        }
    }

    func appendUsage(to out: inout [UInt8]) {
        JSONBytes.append("{\"prompt_tokens\":", to: &out)
        JSONBytes.appendDecimal(reply.promptTokens, to: &out)
        JSONBytes.append(",\"completion_tokens\":", to: &out)
        JSONBytes.appendDecimal(reply.completionTokens, to: &out)
        JSONBytes.append(",\"total_tokens\":", to: &out)
        JSONBytes.appendDecimal(reply.promptTokens + reply.completionTokens, to: &out)
        JSONBytes.append("}", to: &out)
    }

    /// The non-streaming `chat.completion` object.
    func completionBody() -> [UInt8] {
        var out: [UInt8] = []
        Self.appendEnvelope(id: id, created: created, model: reply.model, object: "chat.completion", to: &out)
        JSONBytes.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":", to: &out)
        if case .toolCall(let callID, let name, let fragments) = reply.content {
            JSONBytes.append("null,\"tool_calls\":[{\"id\":", to: &out)
            JSONBytes.appendQuoted(callID, to: &out)
            JSONBytes.append(",\"type\":\"function\",\"function\":{\"name\":", to: &out)
            JSONBytes.appendQuoted(name, to: &out)
            JSONBytes.append(",\"arguments\":", to: &out)
            JSONBytes.appendQuoted(fragments.joined(), to: &out)
            JSONBytes.append("}}]", to: &out)
        } else {
            JSONBytes.appendQuoted(reply.content.joined(upTo: reply.sentCount), to: &out)
        }
        JSONBytes.append(",\"refusal\":null},\"logprobs\":null,\"finish_reason\":", to: &out)
        JSONBytes.appendQuoted(reply.finishReason, to: &out)
        JSONBytes.append("}],\"usage\":", to: &out)
        appendUsage(to: &out)
        JSONBytes.append("}", to: &out)
        return out
    }
}
