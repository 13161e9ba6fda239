/// Which browser origins may use the gateway (PROTOCOL.md section 2): requests without an
/// `Origin` (not a browser) are allowed; a browser request is allowed from the gateway's own
/// origin and from `allowed` entries. This stops a web page the user happens to visit from
/// driving a loopback gateway through their browser (cross-site WebSocket hijacking, and
/// "simple" cross-site POSTs that need no CORS preflight).
public struct OriginPolicy: Sendable, Equatable {
    public var allowed: [String]

    public init(allowed: [String] = []) {
        self.allowed = allowed.map { Self.normalise($0) }
    }

    /// `host` is the request's `Host` header (the address the browser used for the gateway).
    public func allows(origin: String?, host: String?) -> Bool {
        guard let origin, !origin.isEmpty else { return true }
        let o = Self.normalise(origin)
        if let host, !host.isEmpty {
            let h = host.lowercased()
            if o == "http://" + h || o == "https://" + h { return true }
        }
        return allowed.contains(o)
    }

    private static func normalise(_ s: String) -> String {
        var v = s.lowercased()
        while v.hasSuffix("/") { v.removeLast() }
        return v
    }
}
