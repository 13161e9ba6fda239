import CLws

// The four lws protocol callbacks. Each recovers the gateway from the context's user pointer
// (no globals) and dispatches; the decisions live in the connection and exchange types.

enum HTTPProtocol { static let name = "http" }
enum WebSocketProtocol { static let name = "clawgate.v1" }

/// The object a wsi carries in its opaque user data (a connection, an exchange, the upstream socket set),
/// borrowed.
func opaqueOwner<T: AnyObject>(of wsi: OpaquePointer, as _: T.Type) -> T? {
    guard let p = lws_get_opaque_user_data(wsi) else { return nil }
    return Unmanaged<T>.fromOpaque(p).takeUnretainedValue()
}

private func gateway(of wsi: OpaquePointer) -> Gateway? {
    guard let ctx = lws_get_context(wsi), let user = lws_context_user(ctx) else { return nil }
    return Unmanaged<Gateway>.fromOpaque(user).takeUnretainedValue()
}

func gatewayHTTPCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                         _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let gw = gateway(of: wsi) else { return 0 }
    let r = gw.httpEvent(wsi, reason, user, input, len)
    if reason == LWS_CALLBACK_HTTP_BODY_COMPLETION { gw.curl.collectIfOverdue() }
    return r
}

func gatewayWSCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                       _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi, let gw = gateway(of: wsi) else { return 0 }
    let r = gw.webSocketEvent(wsi, reason, user, input, len)
    // A frame may have started a request; lws's service of this socket is all that is on the
    // stack, so answers that came back meanwhile can be relayed here.
    if reason == LWS_CALLBACK_RECEIVE { gw.curl.collectIfOverdue() }
    return r
}

func gatewayFdCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                       _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi else { return 0 }
    switch reason {
    case LWS_CALLBACK_RAW_RX_FILE:
        opaqueOwner(of: wsi, as: UpstreamSockets.self)?.collect()
        return 0
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        opaqueOwner(of: wsi, as: UpstreamSockets.self)?.watchClosed()
        return 0
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        // lws_cancel_service woke the loop; the loop condition reads the stop flag.
        return 0
    default:
        return lws_callback_http_dummy(wsi, reason, user, input, len)
    }
}

func gatewayDeadlineCallback(_ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                             _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
    guard let wsi else { return 0 }
    switch reason {
    case LWS_CALLBACK_RAW_RX_FILE:
        opaqueOwner(of: wsi, as: LoopDeadlines.self)?.expired()
        return 0
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        opaqueOwner(of: wsi, as: LoopDeadlines.self)?.watchClosed()
        return 0
    default:
        return lws_callback_http_dummy(wsi, reason, user, input, len)
    }
}
