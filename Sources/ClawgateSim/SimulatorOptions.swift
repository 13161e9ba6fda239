/// How an ``OpenAISimulator`` listens. A plain value: copy it, change it, pass it in.
public struct SimulatorOptions: Sendable {
    /// Address to bind. An IPv4 literal keeps lws off IPv6 (see `SimulatorServer`).
    public var host: String
    /// TCP port; 0 asks the kernel for a free one, read it back from `start()`.
    public var port: Int
    /// When set, every `/v1/...` request must carry `Authorization: Bearer <apiKey>`.
    public var apiKey: String?

    public init(host: String = "127.0.0.1", port: Int = 0, apiKey: String? = nil) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
    }

    /// A changed copy, so callers can tweak one field inline.
    public func with(_ change: (inout SimulatorOptions) -> Void) -> SimulatorOptions {
        var copy = self
        change(&copy)
        return copy
    }
}
