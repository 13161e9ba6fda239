import CCurl
import Foundation

/// Blocking HTTP requests with libcurl's easy API, for the REST door tests.
enum TestHTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] ?? [:]
        }
    }

    private final class Sink {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        /// Abort the transfer once this many body bytes arrived (simulates a client leaving).
        var abortAfter: Int?
    }

    static func request(_ method: String = "GET", port: Int, path: String, body: String? = nil,
                        headers: [String] = [], abortAfterBytes: Int? = nil) -> Response {
        let easy = curl_easy_init()!
        defer { curl_easy_cleanup(easy) }
        let sink = Sink()
        sink.abortAfter = abortAfterBytes
        let me = Unmanaged.passUnretained(sink).toOpaque()
        _ = ccurl_easy_setopt_str(easy, CURLOPT_URL, "http://127.0.0.1:\(port)\(path)")
        _ = ccurl_easy_setopt_str(easy, CURLOPT_CUSTOMREQUEST, method)
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for h in headers + ["Content-Type: application/json", "Expect:"] { list = curl_slist_append(list, h) }
        defer { curl_slist_free_all(list) }
        _ = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        if let body {
            _ = ccurl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.utf8.count)
            _ = ccurl_easy_setopt_str(easy, CURLOPT_COPYPOSTFIELDS, body)
        }
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, 20000)
        _ = ccurl_easy_setopt_writefn(easy, CURLOPT_WRITEFUNCTION) { ptr, size, n, user in
            let s = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            s.body.append(contentsOf: UnsafeRawBufferPointer(start: ptr, count: size * n))
            if let limit = s.abortAfter, s.body.count >= limit { return 0 }
            return size * n
        }
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        _ = ccurl_easy_setopt_writefn(easy, CURLOPT_HEADERFUNCTION) { ptr, size, n, user in
            let s = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: size * n), as: UTF8.self)
            if let colon = line.firstIndex(of: ":") {
                s.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return size * n
        }
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        _ = curl_easy_perform(easy)
        var status = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, headers: sink.headers, body: sink.body)
    }
}
