import CLws

/// One HTTP transaction on one connection: request intake, then the reply, written only from
/// `HTTP_WRITEABLE` with `LWS_PRE` headroom. Only touched on the lws service thread.
final class SimulatorSession {
    enum Method { case get, post, other }
    enum Phase { case receiving, waiting, headers, body, streaming, cutPending, finished }

    let wsi: OpaquePointer
    let method: Method
    let path: String
    let authorization: String?
    var requestBody: [UInt8] = []
    private(set) var phase = Phase.receiving
    /// True while a counted chat reply is in progress (drives `active` and `aborted`).
    private(set) var chatInProgress = false

    private var routed = RoutedRequest(response: .close)
    private var writer: OpenAIChunkWriter?
    private var fixedBody: [UInt8] = []
    private var bodyOffset = 0
    private var step = 0
    private var delayedStep = -1
    /// First-byte and inter-token delays.
    private var timer: SimulatorTimer!
    /// Reused frame buffer: `[LWS_PRE + chunk-size line room][payload]`.
    private var out: [UInt8] = []
    /// The response head, held until the first body bytes so both leave in one `send`: one
    /// wake-up of the reader and one system call fewer per reply, which on the core the
    /// simulator shares with the load generator is time taken from the client.
    private var head: [UInt8] = []

    /// Bytes of SSE events gathered into one HTTP chunk before it is written.
    static let framePayload = 16 * 1024
    private static let lineRoom = 10
    private static let eventStream = Array("text/event-stream; charset=utf-8".utf8)
    private static let chunked = Array("chunked".utf8)
    private static let noCache = Array("no-cache".utf8)
    private static let reserved = Int(CLWS_PRE) + lineRoom

    init(wsi: OpaquePointer, method: Method, path: String, authorization: String?) {
        self.wsi = wsi
        self.method = method
        self.path = path
        self.authorization = authorization
        timer = SimulatorTimer { [unowned self] in self.timerFired() }
    }

    /// The timer queue holds the timer, which calls back unowned.
    deinit { timer.cancel() }

    /// Starts the reply; the first bytes leave after `firstByteMs`.
    func begin(_ routed: RoutedRequest, context: OpaquePointer, stats: SimulatorSharedState) {
        self.routed = routed
        if routed.isChatReply {
            chatInProgress = true
            stats.update { $0.started += 1; $0.active += 1 }
        }
        switch routed.response {
        case .fixed(_, _, _, let body): fixedBody = body
        case .stream(let w): writer = w
        case .close: break
        }
        if routed.firstByteMs > 0 {
            phase = .waiting
            arm(context: context, ms: routed.firstByteMs)
        } else {
            phase = .headers
            lws_callback_on_writable(wsi)
        }
    }

    /// Called on CLOSED_HTTP / HTTP_DROP_PROTOCOL and before the session is released.
    func connectionGone(stats: SimulatorSharedState) {
        timer.cancel()
        if chatInProgress {
            chatInProgress = false
            stats.update { $0.aborted += 1; $0.active -= 1 }
        }
        phase = .finished
    }

    private func timerFired() {
        if phase == .waiting { phase = .headers }
        lws_callback_on_writable(wsi)
    }

    private func arm(context: OpaquePointer, ms: Int) { timer.arm(context: context, ms: ms) }

    /// Counted just before the final write, so a client that has read the last byte always
    /// sees `completed` already incremented (tests check it without polling).
    private func finishChatReply(stats: SimulatorSharedState) {
        if chatInProgress {
            chatInProgress = false
            stats.update { $0.completed += 1; $0.active -= 1 }
        }
    }

    /// HTTP_WRITEABLE. Returns the value for the lws callback (-1 closes the connection).
    func writeable(context: OpaquePointer, scratch: UnsafeMutablePointer<UInt8>, scratchSize: Int,
                   stats: SimulatorSharedState) -> Int32 {
        switch phase {
        case .receiving, .waiting, .finished:
            return 0
        case .headers:
            if writeHeaders(scratch: scratch, scratchSize: scratchSize, stats: stats) != 0 { return -1 }
            return writeable(context: context, scratch: scratch, scratchSize: scratchSize, stats: stats)
        case .body:
            return writeFixedBody(stats: stats)
        case .streaming:
            if timer.isArmed { return 0 }
            return writeStream(context: context, stats: stats)
        case .cutPending:
            if !head.isEmpty {
                var none = [UInt8](repeating: 0, count: Int(CLWS_PRE))
                if send(&none, final: false) != 0 { return -1 }
                lws_callback_on_writable(wsi)
                return 0
            }
            // Reached only once lws has flushed everything written so far.
            finishChatReply(stats: stats)
            phase = .finished
            return -1
        }
    }

    private func writeHeaders(scratch: UnsafeMutablePointer<UInt8>, scratchSize: Int, stats: SimulatorSharedState) -> Int32 {
        let start = scratch + Int(CLWS_PRE)
        let end = scratch + scratchSize
        var p: UnsafeMutablePointer<UInt8>? = start
        var failed = false
        func add(_ token: lws_token_indexes, _ value: [UInt8]) {
            if lws_add_http_header_by_token(wsi, token, value, Int32(value.count), &p, end) != 0 { failed = true }
        }
        func addNamed(_ name: String, _ value: String) {
            var n = Array((name + ":").utf8) + [0]
            var v = Array(value.utf8)
            if lws_add_http_header_by_name(wsi, &n, &v, Int32(v.count), &p, end) != 0 { failed = true }
        }
        switch routed.response {
        case .close:
            finishChatReply(stats: stats)
            phase = .finished
            return -1
        case .fixed(let status, let contentType, let headers, let body):
            if lws_add_http_header_status(wsi, UInt32(status), &p, end) != 0 { return -1 }
            add(WSI_TOKEN_HTTP_CONTENT_TYPE, Array(contentType.utf8))
            if lws_add_http_header_content_length(wsi, lws_filepos_t(body.count), &p, end) != 0 { return -1 }
            for h in headers { addNamed(h.name, h.value) }
            phase = .body
        case .stream:
            if lws_add_http_header_status(wsi, 200, &p, end) != 0 { return -1 }
            add(WSI_TOKEN_HTTP_CONTENT_TYPE, Self.eventStream)
            add(WSI_TOKEN_HTTP_TRANSFER_ENCODING, Self.chunked)
            add(WSI_TOKEN_HTTP_CACHE_CONTROL, Self.noCache)
            phase = .streaming
        }
        if failed || lws_finalize_http_header(wsi, &p, end) != 0 { return -1 }
        head = Array(UnsafeBufferPointer(start: start, count: p! - start))
        return 0
    }

    /// Writes `bytes[from...]` (which has `LWS_PRE` headroom before `from`), preceded by the
    /// response head while it is still held. On HTTP/1 lws writes every kind alike.
    private func send(_ bytes: inout [UInt8], from: Int = Int(CLWS_PRE), final: Bool) -> Int32 {
        if !head.isEmpty {
            var joined = [UInt8](repeating: 0, count: Int(CLWS_PRE)) + head + bytes[from...]
            head.removeAll()
            return send(&joined, final: final)
        }
        let length = bytes.count - from
        guard length > 0 else { return 0 }
        let written = bytes.withUnsafeMutableBufferPointer { buf in
            lws_write(wsi, buf.baseAddress! + from, length, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP)
        }
        return written < length ? -1 : 0
    }

    private func writeFixedBody(stats: SimulatorSharedState) -> Int32 {
        let remaining = fixedBody.count - bodyOffset
        let n = min(remaining, 64 * 1024)
        let last = n == remaining
        if last { finishChatReply(stats: stats) }
        if n > 0 {
            out.removeAll(keepingCapacity: true)
            out.append(contentsOf: repeatElement(0, count: Int(CLWS_PRE)))
            out.append(contentsOf: fixedBody[bodyOffset..<(bodyOffset + n)])
            if send(&out, final: last) != 0 { return -1 }
            bodyOffset += n
        } else {
            var none = [UInt8](repeating: 0, count: Int(CLWS_PRE))
            if send(&none, final: last) != 0 { return -1 }
        }
        if !last {
            lws_callback_on_writable(wsi)
            return 0
        }
        phase = .finished
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }

    /// Gathers as many SSE events as fit one frame (or up to the next delay), wraps them in
    /// one HTTP chunk and writes it. lws keeps an unsent tail itself and holds WRITEABLE back
    /// until it drains, so a slow reader costs at most one frame of memory.
    private func writeStream(context: OpaquePointer, stats: SimulatorSharedState) -> Int32 {
        guard let writer else { return -1 }
        let reply = writer.reply
        if out.count != Self.reserved {
            out.removeAll(keepingCapacity: true)
            out.reserveCapacity(Self.reserved + Self.framePayload + 1024)
            out.append(contentsOf: repeatElement(0, count: Self.reserved))
        }
        var endOfBody = false
        var cut = false
        var pause = false
        while step < reply.stepCount && out.count - Self.reserved < Self.framePayload {
            let s = reply.step(step)
            if case .content(let i) = s, i > 0, reply.delayMs > 0, delayedStep != step {
                delayedStep = step
                pause = true
                break
            }
            switch s {
            case .endOfBody: endOfBody = true
            case .cut: cut = true
            default: writer.append(s, to: &out)
            }
            step += 1
            if endOfBody || cut { break }
        }
        let payload = out.count - Self.reserved
        if payload > 0 || endOfBody {
            if payload > 0 { out.append(contentsOf: [0x0D, 0x0A]) }
            if endOfBody { out.append(contentsOf: Array("0\r\n\r\n".utf8)) }
            var start = Self.reserved
            if payload > 0 {
                // chunk-size line right before the payload; leading headroom stays >= LWS_PRE.
                var v = payload
                out[start - 1] = 0x0A
                out[start - 2] = 0x0D
                start -= 2
                repeat {
                    start -= 1
                    out[start] = JSONBytes.hexDigit(v & 0xF)
                    v >>= 4
                } while v > 0
            }
            if endOfBody { finishChatReply(stats: stats) }
            let failed = send(&out, from: start, final: endOfBody) != 0
            out.removeLast(out.count - Self.reserved)
            if failed { return -1 }
        }
        if endOfBody {
            phase = .finished
            return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
        }
        if cut {
            phase = .cutPending
            lws_callback_on_writable(wsi)
            return 0
        }
        if pause {
            arm(context: context, ms: reply.delayMs)
            return 0
        }
        lws_callback_on_writable(wsi)
        return 0
    }
}

@available(*, unavailable)
extension SimulatorSession: Sendable {}
