/// `ws://HOST:PORT/PATH` split for lws_client_connect_via_info.
struct WSTarget {
    var host: String
    var port: Int
    var path: String

    init?(_ url: String) {
        guard url.hasPrefix("ws://") else { return nil }
        let rest = url.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let hostPort = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard let colon = hostPort.lastIndex(of: ":"), let p = Int(hostPort[hostPort.index(after: colon)...]) else { return nil }
        host = String(hostPort[..<colon])
        port = p
    }
}
