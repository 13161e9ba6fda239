/// The behaviour a model name asks for, e.g. `sim-t100-d20-nousage`. Pure value, no I/O.
struct ReplyDirectives: Equatable, Sendable {
    var tokens = 8
    var delayMs = 0
    var firstByteMs = 0
    var errorStatus: Int?
    var cutAfter: Int?
    var errorAfter: Int?
    var noUsage = false
    var echo = false
    var tools = false
    /// True when `t{N}` was given explicitly (echo splits into N pieces only then).
    var tokensGiven = false

    /// Statuses `e{STATUS}` may ask for; others would need an error body OpenAI never sends.
    static let simulatedStatuses: Set<Int> = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504]

    /// Parses `sim[-directive]*`; nil when the name is not one the simulator serves
    /// (the caller answers 404 model_not_found, as OpenAI does for an unknown model).
    static func parse(model: String) -> ReplyDirectives? {
        let parts = model.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.first == "sim" else { return nil }
        var d = ReplyDirectives()
        for part in parts.dropFirst() {
            switch part {
            case "nousage": d.noUsage = true
            case "echo": d.echo = true
            case "tools": d.tools = true
            default:
                if let n = number(after: "cut", in: part) { d.cutAfter = n }
                else if let n = number(after: "err", in: part) { d.errorAfter = n }
                else if let n = number(after: "t", in: part), n >= 1 { d.tokens = n; d.tokensGiven = true }
                else if let n = number(after: "d", in: part) { d.delayMs = n }
                else if let n = number(after: "f", in: part) { d.firstByteMs = n }
                else if let n = number(after: "e", in: part), simulatedStatuses.contains(n) { d.errorStatus = n }
                else { return nil }
            }
        }
        return d
    }

    /// Model names already parsed: a benchmark asks for the same one thousands of times a second,
    /// and splitting it each time cost ~8,000 instructions a request on the client's core.
    /// Only touched on the service thread; bounded so a client naming endless models cannot grow it.
    final class Cache {
        private var known: [String: ReplyDirectives?] = [:]
        static let limit = 256
        var count: Int { known.count }

        func directives(for model: String) -> ReplyDirectives? {
            if let hit = known[model] { return hit }
            let parsed = ReplyDirectives.parse(model: model)
            if known.count >= Self.limit { known.removeAll(keepingCapacity: true) }
            known[model] = parsed
            return parsed
        }
    }

    private static func number(after prefix: String, in part: Substring) -> Int? {
        guard part.hasPrefix(prefix) else { return nil }
        let digits = part.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}

/// What the reply carries, decided once per request.
enum ReplyContent: Equatable, Sendable {
    /// `w0 w1 ... w{count-1}`, rendered on the fly so a 200k-chunk stream allocates nothing per chunk.
    case words(count: Int)
    /// Explicit pieces (echo).
    case pieces([String])
    /// One function call whose arguments arrive in these fragments.
    case toolCall(id: String, name: String, argumentFragments: [String])

    var count: Int {
        switch self {
        case .words(let n): return n
        case .pieces(let p): return p.count
        case .toolCall(_, _, let f): return f.count
        }
    }

    /// The text of piece `i` (a word, an echo slice, or an arguments fragment).
    func piece(_ i: Int) -> String {
        switch self {
        case .words(let n): return i == n - 1 ? "w\(i)" : "w\(i) "
        case .pieces(let p): return p[i]
        case .toolCall(_, _, let f): return f[i]
        }
    }

    func joined(upTo n: Int) -> String {
        var s = ""
        for i in 0..<min(n, count) { s += piece(i) }
        return s
    }
}

/// How a streamed reply ends.
enum StreamEnding: Equatable, Sendable {
    /// finish chunk, optional usage chunk, `data: [DONE]`, end of body.
    case complete(includeUsage: Bool)
    /// Close the socket mid-body: no finish, no usage, no [DONE].
    case cut
    /// A mid-stream `{"error":...}` event, then end of body.
    case midStreamError
}

/// One step of a streamed reply, in order.
enum StreamStep: Equatable, Sendable {
    case role
    case content(Int)
    case finish
    case usage
    case done
    case midStreamError
    case endOfBody
    case cut
}

/// The full reply to one chat request as a pure value: the loop only walks it.
struct SimulatedReply: Equatable, Sendable {
    var model: String
    var stream: Bool
    var content: ReplyContent
    /// Content steps actually sent (after max_tokens, cut and err caps).
    var sentCount: Int
    var finishReason: String
    var ending: StreamEnding
    var promptTokens: Int
    var delayMs: Int
    var firstByteMs: Int

    init(directives d: ReplyDirectives, request: SimChatRequest) {
        model = request.model
        stream = request.stream
        delayMs = d.delayMs
        firstByteMs = d.firstByteMs
        promptTokens = request.promptTokens
        if d.tools {
            content = .toolCall(id: "call_sim0000000000000000000001", name: "get_weather",
                                argumentFragments: ["{\"city\":", "\"Paris\"}"])
            finishReason = "tool_calls"
            sentCount = content.count
        } else {
            if d.echo {
                content = .pieces(Self.split(request.lastUserText, into: d.tokensGiven ? d.tokens : 1))
            } else {
                content = .words(count: d.tokens)
            }
            sentCount = content.count
            finishReason = "stop"
            if let cap = request.maxTokens, cap >= 0, cap < sentCount {
                sentCount = cap
                finishReason = "length"
            }
        }
        if let k = d.cutAfter {
            sentCount = min(sentCount, k)
            ending = .cut
        } else if let k = d.errorAfter {
            sentCount = min(sentCount, k)
            ending = .midStreamError
        } else {
            ending = .complete(includeUsage: request.includeUsage && !d.noUsage)
        }
    }

    var completionTokens: Int { sentCount }

    /// Steps: role, content..., then the ending.
    var stepCount: Int {
        let tail: Int
        switch ending {
        case .complete(let usage): tail = usage ? 4 : 3
        case .cut: tail = 1
        case .midStreamError: tail = 2
        }
        return 1 + sentCount + tail
    }

    func step(_ i: Int) -> StreamStep {
        if i == 0 { return .role }
        if i <= sentCount { return .content(i - 1) }
        let t = i - sentCount - 1
        switch ending {
        case .complete(let usage):
            let tail: [StreamStep] = usage ? [.finish, .usage, .done, .endOfBody] : [.finish, .done, .endOfBody]
            return tail[t]
        case .cut: return .cut
        case .midStreamError: return t == 0 ? .midStreamError : .endOfBody
        }
    }

    /// Splits text into `n` pieces of about equal size (by characters, so UTF-8 stays whole).
    static func split(_ text: String, into n: Int) -> [String] {
        let chars = Array(text)
        guard n > 1, chars.count > 1 else { return [text] }
        let parts = min(n, chars.count)
        var out: [String] = []
        out.reserveCapacity(parts)
        for p in 0..<parts {
            let lo = chars.count * p / parts, hi = chars.count * (p + 1) / parts
            out.append(String(chars[lo..<hi]))
        }
        return out
    }
}
