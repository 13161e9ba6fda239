import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// One libcurl easy handle with the options that never change set once, when it is created,
/// and the per-request state a reused handle can keep: its error buffer and, while requests
/// keep naming the same provider, its header list and parsed URL.
final class CurlHandle {
    let easy: UnsafeMutableRawPointer
    /// curl's own description of a failure (CURLOPT_ERRORBUFFER), cleared per transfer.
    let errorBuffer: UnsafeMutablePointer<CChar>
    private var headerLines: [String] = []
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var urlText: String?
    private var parsedURL: OpaquePointer?

    fileprivate init?(closeSocket: ccurl_closesocket_cb, closeSocketData: UnsafeMutableRawPointer) {
        guard let easy = curl_easy_init() else { return nil }
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_POST, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        // HTTP/2 where the provider offers it over TLS (multiplexed on one connection), 1.1 otherwise.
        _ = ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, ccurl_http_version_2tls())
        // Without a proxy in the environment, say so: curl otherwise reads five proxy
        // variables from the environment on every request, and no_proxy/NO_PROXY even then.
        if !Self.proxyInEnvironment {
            _ = ccurl_easy_setopt_str(easy, CURLOPT_PROXY, "")
            _ = ccurl_easy_setopt_str(easy, CURLOPT_NOPROXY, "")
        }
        // The driver watches each socket for as long as curl keeps it; it hears of the close.
        _ = ccurl_easy_setopt_closesocketfn(easy, closeSocket)
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_CLOSESOCKETDATA, closeSocketData)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        curl_url_cleanup(parsedURL)
        errorBuffer.deallocate()
    }

    /// `url` parsed once for as long as requests keep naming it, for CURLOPT_CURLU. Given only
    /// CURLOPT_URL, curl parses the text on every request and then prints it back out to
    /// normalise it: ~12,000 instructions per request, a twentieth of the gateway's whole cost
    /// for a non-streamed chat (callgrind). Nil when the text does not parse: curl is then
    /// left to parse it and report the error itself.
    func parsed(url: String) -> OpaquePointer? {
        if url != urlText {
            curl_url_cleanup(parsedURL)
            parsedURL = ccurl_url_parse(url)
            urlText = url
        }
        return parsedURL
    }

    /// The header list for `lines`, rebuilt only when they differ from the last request's.
    func headers(_ lines: [String]) -> UnsafeMutablePointer<curl_slist>? {
        if lines != headerLines || headerList == nil {
            curl_slist_free_all(headerList)
            headerList = nil
            for h in lines { headerList = curl_slist_append(headerList, h) }
            headerLines = lines
        }
        return headerList
    }

    /// Read once: the gateway's environment does not change while it runs.
    static let proxyInEnvironment: Bool = {
        let names: [String] = ["http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        return names.contains { name in getenv(name).map { $0.pointee != 0 } ?? false }
    }()
}

/// Finished easy handles, kept for the next transfer. Creating a handle per request, or even
/// resetting one and setting every option again, was a visible share of the per-request cost;
/// a reused handle also keeps its TLS session cache. Only touched on the lws service thread.
final class EasyHandlePool {
    private var idle: [CurlHandle] = []
    private let limit: Int
    private let closeSocket: ccurl_closesocket_cb
    private let closeSocketData: UnsafeMutableRawPointer

    init(limit: Int = 256, closeSocket: ccurl_closesocket_cb, closeSocketData: UnsafeMutableRawPointer) {
        self.limit = limit
        self.closeSocket = closeSocket
        self.closeSocketData = closeSocketData
    }

    func take() -> CurlHandle? {
        idle.popLast() ?? CurlHandle(closeSocket: closeSocket, closeSocketData: closeSocketData)
    }

    /// The handle must no longer be in a multi handle. Its per-request options are all set
    /// again by the next transfer, so it is not reset.
    func give(_ handle: CurlHandle) {
        guard idle.count < limit else { return }
        idle.append(handle)
    }

    func drain() { idle.removeAll() }
}

@available(*, unavailable) extension CurlHandle: Sendable {}
@available(*, unavailable) extension EasyHandlePool: Sendable {}
