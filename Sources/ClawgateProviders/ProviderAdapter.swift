import ClawgateCore

/// What the transfer layer needs to send one upstream request.
public struct UpstreamRequest: Sendable, Equatable {
    public var url: String
    /// Complete header lines, e.g. `Authorization: Bearer …`. Never logged.
    public var headers: [String]
    public var body: [UInt8]

    public init(url: String, headers: [String], body: [UInt8]) {
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// One provider wire format: encode the internal request, decode the provider's stream back
/// into `StreamEvent`s, and read its error bodies. Adding a provider is one type conforming to
/// this, plus its fixtures.
public protocol ProviderAdapter: Sendable {
    func makeRequest(_ request: ChatRequest, deployment: Deployment, provider: ProviderConfig) -> UpstreamRequest
    /// A fresh decoder for one response stream.
    func makeStreamDecoder() -> any StreamDecoder
    /// The message of an HTTP error answer (status >= 400), in the provider's own words.
    func errorMessage(status: Int, body: [UInt8]) -> String
}

/// Turns a provider's response bytes, as they arrive, into events. Owned by one transfer.
public protocol StreamDecoder: AnyObject {
    /// Feeds bytes; calls `emit` for each complete event, in order.
    func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void)
    /// True once the provider signalled a proper end of stream (OpenAI's `[DONE]`).
    var sawEnd: Bool { get }
}

public enum ProviderAdapters {
    /// The adapter of a provider kind, or nil when this build has none for it.
    public static func adapter(for kind: ProviderKind) -> (any ProviderAdapter)? {
        switch kind {
        case .openai, .openaiCompatible: return OpenAIChatAdapter()
        case .anthropic, .gemini, .ollama, .azure, .espeak: return nil
        }
    }
}
