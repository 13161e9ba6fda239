import CCurl

/// libcurl failures become one Swift error naming the call, in one place.
struct CurlError: Error, CustomStringConvertible {
    var call: String
    var message: String
    var description: String { "\(call): \(message)" }
}

func curlCheck(_ rc: CURLcode, _ call: String) throws {
    guard rc == CURLE_OK else { throw CurlError(call: call, message: String(cString: curl_easy_strerror(rc))) }
}

func curlCheck(_ rc: CURLMcode, _ call: String) throws {
    guard rc == CURLM_OK else { throw CurlError(call: call, message: String(cString: curl_multi_strerror(rc))) }
}
