/// One incremental piece of a provider's reply, after the provider's own wire format has been
/// decoded. Every adapter produces these; every ingress consumes them.
public enum StreamEvent: Sendable, Equatable {
    /// A piece of assistant text.
    case text(String)
    /// OpenAI-shaped `tool_calls` delta entries (`[{index, id?, type?, function{name?, arguments?}}]`).
    case toolCalls(JSONValue)
    /// Token counts reported by the provider.
    case usage(Usage)
    /// The provider said why it stopped (`stop`, `length`, `tool_calls`, `content_filter`, …).
    case finish(String)
    /// The provider reported an error inside the stream (after HTTP 200).
    case error(GatewayError)
}

public struct Usage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// True when the provider sent no usage and the gateway counted what it relayed.
    public var estimated: Bool

    public var totalTokens: Int { promptTokens + completionTokens }

    public init(promptTokens: Int, completionTokens: Int, estimated: Bool = false) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.estimated = estimated
    }
}
