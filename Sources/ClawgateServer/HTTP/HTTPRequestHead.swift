import CLws

/// Reads the request line and headers lws parsed for a wsi.
enum HTTPRequestHead {
    enum Method: String { case get = "GET", post = "POST", options = "OPTIONS", put = "PUT", patch = "PATCH", delete = "DELETE", head = "HEAD", other = "?" }

    static func method(of wsi: OpaquePointer) -> Method {
        if lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 { return .get }
        if lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 { return .post }
        if lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0 { return .options }
        if lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 { return .put }
        if lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0 { return .patch }
        if lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0 { return .delete }
        if lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0 { return .head }
        return .other
    }

    /// The request path without its query string.
    static func path(of wsi: OpaquePointer) -> String {
        for token in [WSI_TOKEN_GET_URI, WSI_TOKEN_POST_URI, WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_PUT_URI,
                      WSI_TOKEN_PATCH_URI, WSI_TOKEN_DELETE_URI, WSI_TOKEN_HEAD_URI] {
            if lws_hdr_total_length(wsi, token) > 0 { return header(wsi, token) ?? "" }
        }
        return ""
    }

    static func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let n = Int(lws_hdr_total_length(wsi, token))
        guard n > 0 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> String? in
            let copied = lws_hdr_copy(wsi, buf.baseAddress, Int32(n + 1), token)
            guard copied >= 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: buf.baseAddress, count: Int(copied)), as: UTF8.self)
        }
    }

    static func contentLength(of wsi: OpaquePointer) -> Int? {
        header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH).flatMap { Int($0) }
    }
}
