import CCurl
#if canImport(Glibc)
import Glibc
#endif
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
    private var headerList: UnsafeMutablePointer<curl_slist>?
    unowned(unsafe) let delegate: TransferDelegate
    private(set) var isPaused = false
    /// HTTP status of the answer; 0 until the headers arrived.
    private(set) var status = 0
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private let pool: EasyHandlePool

    init(request: UpstreamRequest, connectTimeoutMs: Int, delegate: TransferDelegate, pool: EasyHandlePool) throws {
        guard let easy = pool.take() else { throw CurlError(call: "curl_easy_init", message: "out of memory") }
        self.easy = easy
        self.pool = pool
        self.delegate = delegate
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        for h in request.headers { headerList = curl_slist_append(headerList, h) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try curlCheck(ccurl_easy_setopt_str(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try curlCheck(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), "CURLOPT_HTTPHEADER")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_POST, 1), "CURLOPT_POST")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, request.body.count), "CURLOPT_POSTFIELDSIZE")
        try request.body.withUnsafeBytes { raw in
            // COPYPOSTFIELDS: curl keeps its own copy, so the body's lifetime is not ours to manage.
            try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)), "CURLOPT_COPYPOSTFIELDS")
        }
        try curlCheck(ccurl_easy_setopt_writefn(easy, CURLOPT_WRITEFUNCTION, { ptr, size, n, user in
            let t = Unmanaged<UpstreamTransfer>.fromOpaque(user!).takeUnretainedValue()
            return t.received(UnsafeRawBufferPointer(start: ptr, count: size * n))
        }), "CURLOPT_WRITEFUNCTION")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me), "CURLOPT_WRITEDATA")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me), "CURLOPT_PRIVATE")
        try curlCheck(ccurl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1), "CURLOPT_TCP_NODELAY")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1), "CURLOPT_TCP_KEEPALIVE")
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMs), "CURLOPT_CONNECTTIMEOUT_MS")
        // HTTP/2 where the provider offers it over TLS (multiplexed on one connection), 1.1 otherwise.
        try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, ccurl_http_version_2tls()), "CURLOPT_HTTP_VERSION")
        // Waiting for a connection that may multiplex only pays where HTTP/2 can be negotiated
        // (TLS). On a plain-http upstream a burst would wait for whole streams to finish
        // (measured: 200 chats at once, TTFT p50 2.1 s with it, 54 ms without).
        if request.url.hasPrefix("https://") {
            try curlCheck(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1), "CURLOPT_PIPEWAIT")
        }
        // Without a proxy in the environment, say so: curl otherwise reads five proxy
        // variables from the environment on every request.
        if !Self.proxyInEnvironment {
            try curlCheck(ccurl_easy_setopt_str(easy, CURLOPT_PROXY, ""), "CURLOPT_PROXY")
        }
    }

    /// Read once: the gateway's environment does not change while it runs.
    static let proxyInEnvironment: Bool = {
        let names: [String] = ["http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        return names.contains { name in getenv(name).map { $0.pointee != 0 } ?? false }
    }()

    deinit {
        pool.give(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// curl's own description of the last failure (more precise than curl_easy_strerror).
    var errorDetail: String {
        let s = String(cString: errorBuffer)
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
