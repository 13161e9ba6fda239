import CLws
import ClawgateCore
import ClawgateProviders

/// One WebSocket connection on the hub: reassembles incoming messages, holds the bounded
/// queue of outgoing frames and writes them only when lws says the socket is writable. Its
/// `WSSession` holds the protocol state. Only touched on the lws service thread.
final class WSConnection: DeferredWriter {
    let wsi: OpaquePointer
    unowned let gateway: Gateway
    private(set) var session: WSSession!
    private var out = OutboundQueue()
    private var rx: [UInt8] = []
    private var rxOversize = false
    private var rxBinary = false
    /// Calls whose upstream is paused until this client drains.
    private var pausedCalls: [Call] = []
    private var congestedSince: Double?
    private var closeRequest: (status: UInt32, reason: String)?
    private(set) var isClosed = false
    /// Registered with the gateway's write coalescer for the scope under way.
    private var flushDue = false
    /// A WebSocket over an h2 stream waits its turn in the writable callback; only a socket of
    /// its own may be written at any time.
    private let ownsSocket: Bool

    init(wsi: OpaquePointer, gateway: Gateway) {
        self.wsi = wsi
        self.gateway = gateway
        ownsSocket = lws_get_network_wsi(wsi) == wsi
        session = WSSession(connection: self, gateway: gateway)
    }

    // MARK: - receive

    func received(_ bytes: UnsafeRawBufferPointer) {
        if rx.isEmpty, !rxOversize { rxBinary = lws_frame_is_binary(wsi) != 0 }
        if !rxOversize {
            if rx.count + bytes.count > gateway.config.limits.maxFrameBytes {
                rxOversize = true
                rx = []
            } else {
                rx.append(contentsOf: bytes)
            }
        }
        guard lws_is_final_fragment(wsi) != 0, lws_remaining_packet_payload(wsi) == 0 else { return }
        defer {
            rx.removeAll(keepingCapacity: rx.capacity <= 64 << 10)
            rxOversize = false
        }
        if rxOversize {
            session.frameRejected(FrameError(id: nil, error: GatewayError(.tooLarge,
                "frame is over the limit of \(gateway.config.limits.maxFrameBytes) bytes (limits.max_frame_bytes)")))
        } else if rxBinary {
            session.frameRejected(FrameError(id: nil, error: .badRequest("binary frames are not accepted: send one UTF-8 JSON object per text frame")))
        } else {
            session.messageReceived(rx)
        }
    }

    // MARK: - send

    /// Queues one frame (already prefixed with lws headroom). Inside a coalescing scope it is
    /// written when the scope ends; otherwise lws is asked for a writable callback.
    func enqueue(_ frame: [UInt8]) {
        guard !isClosed else { return }
        out.append(frame)
        gateway.writes.outputQueued(by: self, due: &flushDue) { lws_callback_on_writable(wsi) }
    }

    /// The coalescing scope ended: write what is queued now, unless lws still holds part of an
    /// earlier write (then at most that one write sits in lws's buffer, and the rest waits for
    /// WRITEABLE, which lws delivers only once it has flushed it) or a close is pending.
    func flushDeferred() {
        flushDue = false
        guard !isClosed, !out.isEmpty else { return }
        guard ownsSocket, closeRequest == nil, lws_partial_buffered(wsi) == 0 else {
            lws_callback_on_writable(wsi)
            return
        }
        guard writeBatch() else {
            // The socket failed: lws closes the connection on its next turn.
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            return
        }
        if !out.isEmpty { lws_callback_on_writable(wsi) }
        afterWrite()
    }

    var isCongested: Bool { out.pendingBytes > gateway.config.limits.pendingOutputHighBytes }

    func pause(_ call: Call) {
        if congestedSince == nil { congestedSince = MonotonicClock.nowMs() }
        pausedCalls.append(call)
        gateway.flow.paused(pendingBytes: out.pendingBytes)
    }

    /// LWS_CALLBACK_SERVER_WRITEABLE. Returns -1 to close.
    func writable() -> Int32 {
        if let close = closeRequest, out.isEmpty {
            var reason = Array(close.reason.utf8.prefix(120))
            lws_close_reason(wsi, lws_close_status(rawValue: close.status), &reason, reason.count)
            return -1
        }
        var batches = 0
        while batches < 4, !out.isEmpty {
            guard writeBatch() else { return -1 }
            batches += 1
            // Asked only when more is queued: the check is a poll() of its own.
            if !out.isEmpty, lws_send_pipe_choked(wsi) != 0 { break }
        }
        // Queued frames go out before a requested close.
        if !out.isEmpty || closeRequest != nil { lws_callback_on_writable(wsi) }
        afterWrite()
        return 0
    }

    /// Paused upstreams resume once the queue has drained to a quarter of the high mark.
    private func afterWrite() {
        if out.pendingBytes <= gateway.config.limits.pendingOutputHighBytes / 4, !pausedCalls.isEmpty {
            congestedSince = nil
            let resumed = pausedCalls
            pausedCalls.removeAll()
            for call in resumed {
                gateway.flow.resumed()
                call.resumeIfPaused()
            }
        } else if out.isEmpty {
            congestedSince = nil
        }
    }

    /// Writes the queued frames in one send: a streamed reply is many small frames, and one
    /// syscall per frame cost more than everything else on the relay path. Frames are framed
    /// here (server frames are unmasked text frames; no extension is negotiated) and handed to
    /// lws raw; a lone frame goes through lws's own framing.
    private func writeBatch() -> Bool {
        guard var first = out.popFirst() else { return true }
        let pre = Int(CLWS_PRE)
        guard !out.isEmpty, first.count - pre < Self.batchBytes else {
            return lwsWrite(wsi, &first, LWS_WRITE_TEXT)
        }
        // Which frames go is decided first, so the batch is allocated at its size: a batch is
        // usually two or three small frames, and reserving the whole 33 KB each time cost a
        // reallocation and a large free per batch.
        var frames = 1
        var size = Self.framedSize(first)
        while frames < 256, size < Self.batchBytes, frames - 1 < out.count {
            let next = out[frames - 1]
            guard size + next.count < Self.batchBytes + 1024 else { break }
            size += Self.framedSize(next)
            frames += 1
        }
        var batch: [UInt8] = []
        batch.reserveCapacity(pre + size)
        batch.append(contentsOf: repeatElement(0, count: pre))
        Self.appendFrame(first, to: &batch)
        for _ in 1..<frames { Self.appendFrame(out.popFirst()!, to: &batch) }
        return lwsWrite(wsi, &batch, LWS_WRITE_HTTP)  // LWS_WRITE_HTTP is "raw" on a ws connection
    }

    /// A queued buffer's bytes once framed: the WebSocket header, then the payload.
    private static func framedSize(_ buffer: [UInt8]) -> Int {
        let payload = buffer.count - Int(CLWS_PRE)
        return WebSocketFrameHeader.textHeaderLength(payloadLength: payload) + payload
    }

    private static let batchBytes = 32 << 10

    private static func appendFrame(_ frame: [UInt8], to batch: inout [UInt8]) {
        let pre = Int(CLWS_PRE)
        WebSocketFrameHeader.appendText(payloadLength: frame.count - pre, to: &batch)
        frame.withUnsafeBytes { batch.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[pre...])) }
    }

    /// Closes the connection from the loop (slow consumer, too many connections, shutdown).
    func close(status: UInt32, reason: String) {
        guard closeRequest == nil, !isClosed else { return }
        closeRequest = (status, reason)
        lws_callback_on_writable(wsi)
    }

    func checkSlowConsumer(now: Double) {
        guard let since = congestedSince, now - since > Double(gateway.config.limits.slowConsumerTimeoutMs) else { return }
        congestedSince = nil
        gateway.log.warning("closing a client that stopped reading", ["session": session.id, "pending.bytes": "\(out.pendingBytes)"])
        // The error is queued behind frames the client is not reading; the close is what ends it.
        session.endAll(GatewayError(.slowConsumer, "the client did not read its frames within limits.slow_consumer_timeout_ms (\(gateway.config.limits.slowConsumerTimeoutMs) ms)"))
        out.removeAll()
        close(status: 1008, reason: "slow consumer")
    }

    /// LWS_CALLBACK_CLOSED: a clean close or a dropped link. This build keeps no session for
    /// resume yet, so every request of the session is cancelled and its upstream aborted.
    func closed() {
        guard !isClosed else { return }
        isClosed = true
        out.removeAll()
        pausedCalls.removeAll()
        session.connectionClosed()
    }

    /// Gateway shutdown: the loop is about to destroy the context, which closes the socket.
    func shutdown() {
        closed()
    }
}
