import CLws
import ClawgateCore
import ClawgateProviders
import DequeModule

/// One HTTP request/response on a (possibly kept-alive) connection: collects the body, then
/// queues the response — headers, then either one body with a content length or chunked
/// pieces as they are produced — and writes only when lws says the socket is writable.
/// Only touched on the lws service thread.
final class HTTPExchange: DeferredWriter {
    private enum Piece {
        case head(status: Int, contentType: String, headers: [(String, String)], contentLength: Int?)
        case body([UInt8], final: Bool)
    }

    let wsi: OpaquePointer
    unowned let gateway: Gateway
    let requestId: String
    let method: HTTPRequestHead.Method
    let path: String
    /// An HTTP/2 stream (after an h2c upgrade) frames its own body: no chunked encoding.
    let isH2: Bool
    /// When the request head arrived (monotonic ms).
    let receivedAt = MonotonicClock.nowMs()
    private(set) var body: [UInt8] = []
    private(set) var bodyTooLarge = false
    private var pieces: Deque<Piece> = []
    private(set) var pendingBytes = 0
    private(set) var headersQueued = false
    private var streaming = false
    private(set) var finalQueued = false
    private(set) var isClosed = false
    /// The door handling this exchange (e.g. a chat call in flight), kept alive by it.
    var handler: HTTPExchangeHandler?
    var onDrained: (() -> Void)?
    /// Registered with the gateway's write coalescer for the scope under way.
    private var flushDue = false

    init(wsi: OpaquePointer, gateway: Gateway) {
        self.wsi = wsi
        self.gateway = gateway
        requestId = gateway.nextRequestId()
        method = HTTPRequestHead.method(of: wsi)
        path = HTTPRequestHead.path(of: wsi)
        isH2 = lws_get_network_wsi(wsi) != wsi
        if let n = HTTPRequestHead.contentLength(of: wsi), n > gateway.config.limits.maxBodyBytes { bodyTooLarge = true }
    }

    func appendBody(_ bytes: UnsafeRawBufferPointer) {
        guard !bodyTooLarge else { return }  // drained and dropped: memory stays bounded
        if body.count + bytes.count > gateway.config.limits.maxBodyBytes {
            bodyTooLarge = true
            body = []
            return
        }
        body.append(contentsOf: bytes)
    }

    // MARK: - responses

    var isCongested: Bool { pendingBytes > gateway.config.limits.pendingOutputHighBytes }

    /// A complete response with a content length.
    func respond(status: Int, contentType: String, body payload: [UInt8], headers: [(String, String)] = []) {
        respond(status: status, contentType: contentType, framedBody: framed(payload), headers: headers)
    }

    /// The same, for a body already written after `CLWS_PRE` bytes of headroom.
    func respond(status: Int, contentType: String, framedBody: [UInt8], headers: [(String, String)] = []) {
        guard !headersQueued else { return }
        headersQueued = true
        pieces.append(.head(status: status, contentType: contentType, headers: headers,
                            contentLength: framedBody.count - Int(CLWS_PRE)))
        let now = canWriteNow
        queueBody(framedBody, final: true, askWritable: !now)
        if now { writeNow() }
    }

    /// A whole response goes out at once instead of a poll turn later. lws lets an HTTP/1
    /// connection be written outside WRITEABLE: what the socket does not take at once it keeps
    /// and finishes itself, holding the transaction open until then. Allowed from outside this
    /// wsi's callbacks (the upstream's reply ended the call) and from its body-completion
    /// callback, where lws itself completes transactions (ops-h1.c, LRS_DISCARD_BODY) — on one
    /// core the upstream often answers before that callback returns. Not from its other
    /// callbacks, where lws still has state to settle, and not on h2, whose streams wait their
    /// turn.
    private var canWriteNow: Bool {
        // Nothing of ours is queued (`pieces` holds just this head), and lws holds no output of
        // an earlier response: it completes a transaction only once that is flushed, and reads
        // the next request only after. (`lws_send_pipe_choked` would cost a poll per response.)
        guard pieces.count == 1 else { return false }
        return mayWriteOutsideWriteable
    }

    /// Whether this exchange may be written outside its WRITEABLE callback now (see above), as
    /// far as lws's state goes; the caller knows what it has queued.
    private var mayWriteOutsideWriteable: Bool {
        guard !isH2, !isClosed, lws_partial_buffered(wsi) == 0 else { return false }
        return gateway.servingHTTPWsi != wsi || gateway.servingHTTPReason == LWS_CALLBACK_HTTP_BODY_COMPLETION
    }

    private func writeNow() {
        // The socket failed: lws closes the connection on its next turn.
        if writable() != 0 { lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC) }
    }

    /// Output is queued: inside a coalescing scope it is written when the scope ends (a stream's
    /// chunks from one upstream read leave in one send), otherwise at lws's writable callback.
    private func requestWrite() {
        gateway.writes.outputQueued(by: self, due: &flushDue) { lws_callback_on_writable(wsi) }
    }

    func flushDeferred() {
        flushDue = false
        guard !isClosed, !pieces.isEmpty else { return }
        if mayWriteOutsideWriteable { writeNow() } else { lws_callback_on_writable(wsi) }
    }

    func respondJSON(status: Int, _ object: JanssonObject, headers: [(String, String)] = []) {
        respond(status: status, contentType: "application/json", body: object.dump(), headers: headers)
    }

    /// An error in OpenAI's shape (PROTOCOL.md section 1).
    func respondError(_ e: GatewayError) {
        var headers: [(String, String)] = []
        if let ms = e.retryAfterMs { headers.append(("retry-after", String(max(1, (ms + 999) / 1000)))) }
        respond(status: e.code.httpStatus, contentType: "application/json", body: Self.errorBody(e), headers: headers)
    }

    /// `{"error":{"message","type","code","param"}}`.
    static func errorBody(_ e: GatewayError) -> [UInt8] {
        var w = JSONWriter(capacity: e.message.utf8.count + 128)
        writeError(e, to: &w)
        return w.bytes
    }

    static func writeError(_ e: GatewayError, to w: inout JSONWriter) {
        w.raw("{\"error\":{\"message\":")
        w.string(e.message)
        w.raw(",\"type\":")
        w.string(e.code.openAIType)
        w.raw(",\"code\":")
        w.string(e.code.rawValue)
        w.raw(",\"param\":")
        if let p = e.param { w.string(p) } else { w.null() }
        w.raw("}}")
    }

    /// Starts a chunked response; pieces follow with `sendChunk`, and `endStream` ends it.
    func beginStream(status: Int, contentType: String, headers: [(String, String)] = []) {
        guard !headersQueued else { return }
        headersQueued = true
        streaming = true
        let framing: [(String, String)] = isH2 ? [] : [("transfer-encoding", "chunked")]
        pieces.append(.head(status: status, contentType: contentType, headers: [("cache-control", "no-cache")]
                            + framing + headers, contentLength: nil))
        requestWrite()
    }

    /// One chunk of a chunked body (HTTP/1.1 framing is done here: lws 4.1 never chunks).
    func sendChunk(_ payload: some Collection<UInt8>) {
        guard streaming, !finalQueued, !payload.isEmpty else { return }
        if isH2 {
            queueBody(framed(payload), final: false)
            return
        }
        var b = [UInt8](repeating: 0, count: Int(CLWS_PRE))
        b.reserveCapacity(Int(CLWS_PRE) + payload.count + 12)
        b.append(contentsOf: String(payload.count, radix: 16).utf8)
        b.append(contentsOf: [0x0D, 0x0A])
        b.append(contentsOf: payload)
        b.append(contentsOf: [0x0D, 0x0A])
        queueBody(b, final: false)
    }

    /// A writer for one chunk of a chunked body: headroom, then room for the chunk-size line,
    /// which `sendChunk(_ writer:)` fills in (leading zeros are valid chunk-size digits), so
    /// the payload is written once, in place.
    func chunkWriter(capacity: Int) -> JSONWriter {
        var w = JSONWriter(headroom: Int(CLWS_PRE), capacity: capacity + 12)
        if !isH2 { w.raw("00000000\r\n") }
        return w
    }

    func sendChunk(_ writer: JSONWriter) {
        guard streaming, !finalQueued else { return }
        if isH2 {
            if writer.bytes.count > Int(CLWS_PRE) { queueBody(writer.bytes, final: false) }
            return
        }
        var b = writer.bytes
        let start = Int(CLWS_PRE)
        let size = b.count - start - 10
        guard size > 0 else { return }
        for k in 0..<8 { b[start + 7 - k] = JSONWriter.hexDigits[(size >> (4 * k)) & 0xF] }
        b.append(contentsOf: [0x0D, 0x0A])
        queueBody(b, final: false)
    }

    func endStream() {
        guard streaming, !finalQueued else { return }
        // h2: an empty final write ends the stream (END_STREAM).
        queueBody(isH2 ? framed([]) : framed("0\r\n\r\n".utf8), final: true)
    }

    private func queueBody(_ b: [UInt8], final: Bool, askWritable: Bool = true) {
        guard !isClosed else { return }
        pendingBytes += b.count - Int(CLWS_PRE)
        pieces.append(.body(b, final: final))
        if final { finalQueued = true }
        if askWritable { requestWrite() }
    }

    /// LWS_CALLBACK_HTTP_WRITEABLE. Returns nonzero to close the connection.
    func writable() -> Int32 {
        var writes = 0
        while writes < 16, let piece = pieces.popFirst() {
            writes += 1
            switch piece {
            case .head(let status, let contentType, let headers, let length):
                guard var head = headBytes(status: status, contentType: contentType, headers: headers, contentLength: length) else { return -1 }
                // h1: a complete small response leaves in one send, head and body together.
                if !isH2, case .body(let body, final: true)? = pieces.first {
                    pieces.removeFirst()
                    pendingBytes -= body.count - Int(CLWS_PRE)
                    body.withUnsafeBytes { head.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[Int(CLWS_PRE)...])) }
                    guard lwsWrite(wsi, &head, LWS_WRITE_HTTP_FINAL) else { return -1 }
                    gateway.httpExchangeCompleted(self)
                    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
                }
                guard lwsWrite(wsi, &head, LWS_WRITE_HTTP_HEADERS) else { return -1 }
            case .body(var b, var final):
                pendingBytes -= b.count - Int(CLWS_PRE)
                // Consecutive pieces (SSE chunks) leave in one send.
                while !final, b.count < 32 << 10, case .body(let next, let nextFinal)? = pieces.first {
                    pieces.removeFirst()
                    pendingBytes -= next.count - Int(CLWS_PRE)
                    next.withUnsafeBytes { b.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[Int(CLWS_PRE)...])) }
                    final = nextFinal
                }
                guard lwsWrite(wsi, &b, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) else { return -1 }
                if final {
                    gateway.httpExchangeCompleted(self)
                    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
                }
            }
            if !pieces.isEmpty, lws_send_pipe_choked(wsi) != 0 { break }
        }
        if !pieces.isEmpty { lws_callback_on_writable(wsi) }
        if pendingBytes <= gateway.config.limits.pendingOutputHighBytes / 4, let drained = onDrained {
            onDrained = nil
            drained()
        }
        return 0
    }

    /// The response head after `CLWS_PRE` bytes of headroom. On HTTP/1 it is written here,
    /// not by `lws_add_http_header_status`, which also adds the vhost's five browser-security
    /// headers (kept for the web page lws serves): API answers carry only `nosniff`, which
    /// spares every client ~280 bytes and five header lines to parse per response. On h2, lws
    /// builds it (HPACK).
    private func headBytes(status: Int, contentType: String, headers: [(String, String)], contentLength: Int?) -> [UInt8]? {
        if !isH2 {
            var head = JSONWriter(headroom: Int(CLWS_PRE), capacity: 256)
            head.raw("HTTP/1.1 ")
            head.int(status)
            head.raw(" ")
            head.raw(HTTPStatus.reasonPhrase(status))
            head.raw("\r\ncontent-type: ")
            head.raw(text: contentType)
            head.raw("\r\nx-content-type-options: nosniff\r\n")
            for (name, value) in headers {
                head.raw(text: name)
                head.raw(": ")
                head.raw(text: value)
                head.raw("\r\n")
            }
            head.raw("x-request-id: ")
            head.raw(text: requestId)
            head.raw("\r\n")
            if let contentLength {
                head.raw("content-length: ")
                head.int(contentLength)
                head.raw("\r\n")
            }
            head.raw("\r\n")
            return head.bytes
        }
        let size = 2048
        var buf = [UInt8](repeating: 0, count: Int(CLWS_PRE) + size)
        let used = buf.withUnsafeMutableBufferPointer { raw -> Int? in
            let start = raw.baseAddress! + Int(CLWS_PRE)
            let end = start + size - 1
            var p: UnsafeMutablePointer<UInt8>? = start
            guard lws_add_http_header_status(wsi, UInt32(status), &p, end) == 0 else { return nil }
            guard Self.addHeader(wsi, "content-type", contentType, &p, end) else { return nil }
            for (name, value) in headers {
                guard Self.addHeader(wsi, name, value, &p, end) else { return nil }
            }
            guard Self.addHeader(wsi, "x-request-id", requestId, &p, end) else { return nil }
            if let contentLength {
                guard lws_add_http_header_content_length(wsi, UInt64(contentLength), &p, end) == 0 else { return nil }
            }
            guard lws_finalize_http_header(wsi, &p, end) == 0, let p else { return nil }
            return p - start
        }
        guard let used else { return nil }
        buf.removeLast(size - used)
        return buf
    }

    /// One `name: value` line, the name NUL-terminated on the stack (no array per header).
    private static func addHeader(_ wsi: OpaquePointer, _ name: String, _ value: String,
                                  _ p: inout UnsafeMutablePointer<UInt8>?, _ end: UnsafeMutablePointer<UInt8>) -> Bool {
        let n = name.utf8.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n + 2) { nameBuf in
            _ = nameBuf.initialize(from: name.utf8)
            nameBuf[n] = 0x3A
            nameBuf[n + 1] = 0
            var value = value
            return value.withUTF8 { v in
                lws_add_http_header_by_name(wsi, nameBuf.baseAddress, v.baseAddress, Int32(v.count), &p, end) == 0
            }
        }
    }

    /// The client went away (or the connection is being reused for the next request).
    func closed() {
        guard !isClosed else { return }
        isClosed = true
        pieces.removeAll()
        handler?.exchangeClosed(self)
        handler = nil
    }
}

/// A door's per-request state that must hear about the exchange going away (to abort work).
protocol HTTPExchangeHandler: AnyObject {
    func exchangeClosed(_ exchange: HTTPExchange)
}

@available(*, unavailable) extension HTTPExchange: Sendable {}
