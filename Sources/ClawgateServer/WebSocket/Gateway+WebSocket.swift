import CLws
import ClawgateCore

extension Gateway {
    /// The hub's lws callback: one switch, each case hands over to the connection.
    func webSocketEvent(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                        _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            // Delivered to the vhost's default protocol, which is this one.
            return confirmUpgrade(wsi, to: input)
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            // Backstop for CONFIRM_UPGRADE: only /v1/ws, only allowed origins, reach the hub.
            return HTTPRequestHead.path(of: wsi) == "/v1/ws" && originAllowed(wsi) && !isShuttingDown ? 0 : 1
        case LWS_CALLBACK_ESTABLISHED:
            let c = WSConnection(wsi: wsi, gateway: self)
            lws_set_opaque_user_data(wsi, Unmanaged.passRetained(c).toOpaque())
            sessions[ObjectIdentifier(c)] = c
            counters.wsConnections += 1
            if counters.wsConnections > config.limits.maxConnections {
                c.close(status: 4429, reason: "too many connections (limits.max_connections)")
                return 0
            }
            c.session.sendWelcome()
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let c = connection(of: wsi) else { return 0 }
            c.received(UnsafeRawBufferPointer(start: input, count: len))
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return connection(of: wsi)?.writable() ?? 0
        case LWS_CALLBACK_CLOSED:
            guard let p = lws_get_opaque_user_data(wsi) else { return 0 }
            lws_set_opaque_user_data(wsi, nil)
            let c = Unmanaged<WSConnection>.fromOpaque(p).takeRetainedValue()
            c.closed()
            sessions[ObjectIdentifier(c)] = nil
            counters.wsConnections -= 1
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    private func connection(of wsi: OpaquePointer) -> WSConnection? { opaqueOwner(of: wsi, as: WSConnection.self) }
}
