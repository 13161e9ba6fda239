import CJansson
import CLws
import ClawgateCore

/// The simulator's WebSocket door (any path): the hub's own frames — `welcome`, then per `chat`
/// frame a `start`, one `delta` per token paced as the HTTP reply would be, and `done` with
/// usage — so the benchmark's hub rows have a like-for-like direct baseline. Text replies only
/// (tools, errors and cuts are the HTTP door's). Frames are framed here and written raw, many
/// per `send`, as the gateway does. Only touched on the lws service thread.
final class SimulatorHubConnection {
    let wsi: OpaquePointer
    private let context: OpaquePointer
    private var rx: [UInt8] = []
    private var pending: [UInt8] = []
    private var seq = 0
    private var chats: [HubChat] = []
    private var closed = false
    /// Frames gathered into one write before it is sent.
    static let batchBytes = 32 * 1024

    private let directives: ReplyDirectives.Cache

    init(wsi: OpaquePointer, context: OpaquePointer, directives: ReplyDirectives.Cache) {
        self.wsi = wsi
        self.context = context
        self.directives = directives
        frame { w in w.raw("{\"type\":\"welcome\",\"session\":\"sim\"") }
    }

    /// LWS_CALLBACK_RECEIVE: one fragment of a message.
    func received(_ bytes: UnsafeRawBufferPointer) {
        rx.append(contentsOf: bytes)
        guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return }
        defer { rx.removeAll(keepingCapacity: true) }
        guard let root = rx.withUnsafeBytes({ json_loadb($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count, 0, nil) })
        else { return }
        defer { json_decref(root) }
        guard string(root, "type") == "chat", let id = string(root, "id"), let model = string(root, "model") else { return }
        let d = directives.directives(for: model) ?? ReplyDirectives()
        let prompt = string(root, "prompt") ?? ""
        let chat = HubChat(connection: self, id: id, tokens: d.tokens, delayMs: d.delayMs,
                           promptTokens: max(1, (prompt.utf8.count + 3) / 4))
        chats.append(chat)
        frame { w in
            w.raw("{\"type\":\"start\",\"id\":")
            w.string(id)
        }
        if d.firstByteMs > 0 { chat.arm(context: context, ms: d.firstByteMs) } else { chat.ready = true }
        lws_callback_on_writable(wsi)
    }

    /// LWS_CALLBACK_SERVER_WRITEABLE: tokens that are due become frames; frames leave in one
    /// write. Returns nonzero to close.
    func writable() -> Int32 {
        guard !closed else { return -1 }
        var i = 0
        while i < chats.count, pending.count < Self.batchBytes {
            let c = chats[i]
            // A paced chat sends one token per tick; an unpaced one as many as fit.
            while c.ready, c.next < c.tokens, pending.count < Self.batchBytes {
                let n = c.next
                frame { w in
                    w.raw("{\"type\":\"delta\",\"id\":")
                    w.string(c.id)
                    w.raw(",\"text\":\"w")
                    w.int(n)
                    w.raw(n == c.tokens - 1 ? "\"" : " \"")
                }
                c.next += 1
                if c.delayMs > 0, c.next < c.tokens {
                    c.ready = false
                    c.arm(context: context, ms: c.delayMs)
                }
            }
            if c.next == c.tokens {
                frame { w in
                    w.raw("{\"type\":\"done\",\"id\":")
                    w.string(c.id)
                    w.raw(",\"usage\":{\"prompt_tokens\":")
                    w.int(c.promptTokens)
                    w.raw(",\"completion_tokens\":")
                    w.int(c.tokens)
                    w.raw(",\"total_tokens\":")
                    w.int(c.promptTokens + c.tokens)
                    w.raw("}")
                }
                c.cancel()
                chats.remove(at: i)
            } else {
                i += 1
            }
        }
        if !pending.isEmpty {
            var out = [UInt8](repeating: 0, count: Int(CLWS_PRE))
            out.append(contentsOf: pending)
            pending.removeAll(keepingCapacity: true)
            let n = out.withUnsafeMutableBytes { raw in
                lws_write(wsi, raw.baseAddress!.advanced(by: Int(CLWS_PRE)).assumingMemoryBound(to: UInt8.self),
                          raw.count - Int(CLWS_PRE), LWS_WRITE_HTTP)
            }
            if n < 0 { return -1 }
        }
        if chats.contains(where: { $0.ready }) { lws_callback_on_writable(wsi) }
        return 0
    }

    func tick() {
        lws_callback_on_writable(wsi)
    }

    func close() {
        closed = true
        for c in chats { c.cancel() }
        chats.removeAll()
    }

    /// One text frame (server to client: unmasked), its JSON object closed with `seq` here.
    private func frame(_ body: (inout JSONWriter) -> Void) {
        seq += 1
        var w = JSONWriter()
        body(&w)
        w.raw(",\"seq\":")
        w.int(seq)
        w.raw("}")
        WebSocketFrameHeader.appendText(payloadLength: w.bytes.count, to: &pending)
        pending.append(contentsOf: w.bytes)
    }

    private func string(_ o: UnsafeMutablePointer<json_t>, _ key: String) -> String? {
        guard let v = json_object_get(o, key), let s = json_string_value(v) else { return nil }
        return String(cString: s)
    }
}

/// One chat in flight on a hub connection, with its pacing timer.
final class HubChat {
    unowned let connection: SimulatorHubConnection
    let id: String
    let tokens: Int
    let delayMs: Int
    let promptTokens: Int
    var next = 0
    /// The next token may be sent now.
    var ready = false
    private var timer: SimulatorTimer!

    init(connection: SimulatorHubConnection, id: String, tokens: Int, delayMs: Int, promptTokens: Int) {
        self.connection = connection
        self.id = id
        self.tokens = tokens
        self.delayMs = delayMs
        self.promptTokens = promptTokens
        timer = SimulatorTimer { [unowned self] in
            self.ready = true
            self.connection.tick()
        }
    }

    /// The timer queue holds the timer, which calls back unowned.
    deinit { timer.cancel() }

    func arm(context: OpaquePointer, ms: Int) { timer.arm(context: context, ms: ms) }

    func cancel() { timer.cancel() }
}

@available(*, unavailable) extension SimulatorHubConnection: Sendable {}
@available(*, unavailable) extension HubChat: Sendable {}
