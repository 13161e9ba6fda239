import CCurl
import ClawgateProviders

/// What a transfer's owner decides about bytes that just arrived.
enum TransferWriteDecision {
    case consumed
    /// Leave the bytes with curl and stop reading until `resume()`: backpressure.
    case pause
    /// Abort the transfer; it completes with CURLE_WRITE_ERROR.
    case abort
}

/// The owner of a transfer (a `Call`). Callbacks arrive on the lws service thread.
protocol TransferDelegate: AnyObject {
    func transfer(_ t: UpstreamTransfer, received bytes: UnsafeRawBufferPointer) -> TransferWriteDecision
    func transferCompleted(_ t: UpstreamTransfer, result: CURLcode)
}

/// One libcurl easy handle carrying one upstream request. Only touched on the lws service
/// thread.
final class UpstreamTransfer {
    let easy: UnsafeMutableRawPointer
    private let handle: CurlHandle
    unowned(unsafe) let delegate: TransferDelegate
    private(set) var isPaused = false
    /// HTTP status of the answer; 0 until the headers arrived.
    private(set) var status = 0
    /// The request body; curl reads it in place (CURLOPT_POSTFIELDS), so it lives as long as
    /// the transfer.
    private let body: [UInt8]

    private let pool: EasyHandlePool

    init(request: UpstreamRequest, connectTimeoutMs: Int, delegate: TransferDelegate, pool: EasyHandlePool) throws {
        guard let handle = pool.take() else { throw CurlError(call: "curl_easy_init", message: "out of memory") }
        self.handle = handle
        easy = handle.easy
        self.pool = pool
        self.delegate = delegate
        body = request.body
        handle.errorBuffer[0] = 0
        // Every option a transfer sets differently is set here, each time: the handle is reused
        // without a reset (the options that never change were set when it was created).
        let me = Unmanaged.passUnretained(self).toOpaque()
        // Both: curl takes the parts from the parsed URL and keeps the text for what it reports
        // (its error messages).
        try curlCheck(ccurl_easy_setopt_str(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_CURLU, UnsafeMutableRawPointer(handle.parsed(url: request.url))), "CURLOPT_CURLU")
        try curlCheck(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, handle.headers(request.headers)), "CURLOPT_HTTPHEADER")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count), "CURLOPT_POSTFIELDSIZE")
        try body.withUnsafeBytes { raw in
            // An array's storage does not move while the array is alive and not mutated.
            try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)), "CURLOPT_POSTFIELDS")
        }
        try curlCheck(ccurl_easy_setopt_writefn(easy, CURLOPT_WRITEFUNCTION, { ptr, size, n, user in
            let t = Unmanaged<UpstreamTransfer>.fromOpaque(user!).takeUnretainedValue()
            return t.received(UnsafeRawBufferPointer(start: ptr, count: size * n))
        }), "CURLOPT_WRITEFUNCTION")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me), "CURLOPT_WRITEDATA")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me), "CURLOPT_PRIVATE")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs), "CURLOPT_CONNECTTIMEOUT_MS")
        // Waiting for a connection that may multiplex only pays where HTTP/2 can be negotiated
        // (TLS). On a plain-http upstream a burst would wait for whole streams to finish
        // (measured: 200 chats at once, TTFT p50 2.1 s with it, 54 ms without).
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, request.url.hasPrefix("https://") ? 1 : 0), "CURLOPT_PIPEWAIT")
    }

    deinit {
        pool.give(handle)
    }

    /// curl's own description of the last failure (more precise than curl_easy_strerror).
    var errorDetail: String {
        let s = String(cString: handle.errorBuffer)
        return s.isEmpty ? "" : s
    }

    private func received(_ bytes: UnsafeRawBufferPointer) -> Int {
        if status == 0 {
            var code = 0
            _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            status = code
        }
        switch delegate.transfer(self, received: bytes) {
        case .consumed: return bytes.count
        case .pause:
            isPaused = true
            return CCURL_WRITEFUNC_PAUSE
        case .abort: return 0
        }
    }

    /// Lets curl deliver again; may call back into the delegate before returning.
    func resume() {
        guard isPaused else { return }
        isPaused = false
        _ = curl_easy_pause(easy, CURLPAUSE_CONT)
    }
}

@available(*, unavailable) extension UpstreamTransfer: Sendable {}
