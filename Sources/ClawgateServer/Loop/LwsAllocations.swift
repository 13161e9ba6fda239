import CLws
import Glibc

/// The C structures lws keeps pointers to for the whole life of the context (protocol names,
/// mounts, per-vhost options): allocated here, freed only after lws_context_destroy.
struct LwsAllocations {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var blocks: [UnsafeMutableRawPointer] = []

    mutating func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        strings.append(p)
        return p
    }

    private mutating func allocate<T>(_ type: T.Type, count: Int, zero: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: count)
        p.initialize(repeating: zero, count: count)
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    mutating func protocols() -> UnsafeMutablePointer<lws_protocols> {
        let p = allocate(lws_protocols.self, count: 5, zero: lws_protocols())
        p[0].name = UnsafePointer(string(HTTPProtocol.name))
        p[0].callback = { gatewayHTTPCallback($0, $1, $2, $3, $4) }
        p[1].name = UnsafePointer(string(WebSocketProtocol.name))
        p[1].callback = { gatewayWSCallback($0, $1, $2, $3, $4) }
        // Small receive buffers keep idle sessions cheap; bigger messages arrive in pieces.
        p[1].rx_buffer_size = 1024
        p[2].name = UnsafePointer(string(UpstreamSockets.protocolName))
        p[2].callback = { gatewayFdCallback($0, $1, $2, $3, $4) }
        p[3].name = UnsafePointer(string(LoopDeadlines.protocolName))
        p[3].callback = { gatewayDeadlineCallback($0, $1, $2, $3, $4) }
        return p
    }

    /// `/v1`, `/healthz`, `/readyz`, `/metrics` go to the dynamic HTTP callback; `/` serves the
    /// web folder. WebSocket upgrades are matched before mounts.
    mutating func mounts(webRoot: String?) -> UnsafeMutablePointer<lws_http_mount>? {
        let dynamic = ["/v1", "/healthz", "/readyz", "/metrics"]
        let count = dynamic.count + (webRoot == nil ? 0 : 1)
        let m = allocate(lws_http_mount.self, count: count, zero: lws_http_mount())
        for (i, path) in dynamic.enumerated() {
            m[i].mountpoint = UnsafePointer(string(path))
            m[i].mountpoint_len = UInt8(path.utf8.count)
            m[i].origin_protocol = UInt8(LWSMPRO_CALLBACK.rawValue)
            m[i].protocol = UnsafePointer(string(HTTPProtocol.name))
            m[i].origin = UnsafePointer(string(HTTPProtocol.name))
        }
        if let webRoot {
            let i = dynamic.count
            m[i].mountpoint = UnsafePointer(string("/"))
            m[i].mountpoint_len = 1
            m[i].origin = UnsafePointer(string(webRoot))
            m[i].def = UnsafePointer(string("index.html"))
            m[i].origin_protocol = UInt8(LWSMPRO_FILE.rawValue)
            m[i].protocol = UnsafePointer(string(HTTPProtocol.name))
        }
        for i in 0..<(count - 1) { m[i].mount_next = UnsafePointer(m + i + 1) }
        return m
    }

    /// Makes `name` the vhost's default protocol, so upgrades without Sec-WebSocket-Protocol
    /// (websocat, most scripts) land on the hub.
    mutating func defaultProtocolOption(_ name: String) -> UnsafeMutablePointer<lws_protocol_vhost_options> {
        let inner = allocate(lws_protocol_vhost_options.self, count: 1, zero: lws_protocol_vhost_options())
        inner.pointee.name = UnsafePointer(string("default"))
        inner.pointee.value = UnsafePointer(string("1"))
        let outer = allocate(lws_protocol_vhost_options.self, count: 1, zero: lws_protocol_vhost_options())
        outer.pointee.name = UnsafePointer(string(name))
        outer.pointee.value = UnsafePointer(string(""))
        outer.pointee.options = UnsafePointer(inner)
        return outer
    }

    mutating func free() {
        for s in strings { Glibc.free(s) }
        for b in blocks { b.deallocate() }
        strings.removeAll()
        blocks.removeAll()
    }
}
