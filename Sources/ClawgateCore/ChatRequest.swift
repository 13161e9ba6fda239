/// The one internal shape of a chat completion request. Every ingress (WebSocket `chat`
/// frame, OpenAI REST, Anthropic REST, terminal mode) builds one; every provider adapter
/// encodes it into its own wire format.
public struct ChatRequest: Sendable, Equatable {
    /// The alias the client asked for (PROTOCOL.md section 5).
    public var model: String
    /// OpenAI-shaped messages, kept as the client sent them (content parts included).
    public var messages: [JSONValue]
    /// Whether the client wants incremental output. Upstream transfers always stream.
    public var stream: Bool
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    /// A string or an array of strings.
    public var stop: JSONValue?
    public var tools: JSONValue?
    public var toolChoice: JSONValue?
    public var metadata: JSONValue?
    public var route: RouteOverride?
    /// OpenAI parameters the gateway does not interpret (seed, user, response_format, …),
    /// passed through to OpenAI-compatible upstreams.
    public var extra: [String: JSONValue]

    public init(model: String, messages: [JSONValue], stream: Bool = true, maxTokens: Int? = nil,
                temperature: Double? = nil, topP: Double? = nil, stop: JSONValue? = nil,
                tools: JSONValue? = nil, toolChoice: JSONValue? = nil, metadata: JSONValue? = nil,
                route: RouteOverride? = nil, extra: [String: JSONValue] = [:]) {
        self.model = model
        self.messages = messages
        self.stream = stream
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.stop = stop
        self.tools = tools
        self.toolChoice = toolChoice
        self.metadata = metadata
        self.route = route
        self.extra = extra
    }
}

/// `route` in a request: narrows or overrides the alias's configured strategy (section 5).
public struct RouteOverride: Sendable, Equatable {
    public var strategy: RoutingStrategy?
    public var weights: RoutingWeights?
    public var fallbacks: [String]?

    public init(strategy: RoutingStrategy? = nil, weights: RoutingWeights? = nil, fallbacks: [String]? = nil) {
        self.strategy = strategy
        self.weights = weights
        self.fallbacks = fallbacks
    }
}

public enum RoutingStrategy: String, Sendable, CaseIterable {
    case weighted, latency, roundRobin = "round_robin", leastBusy = "least_busy", cost, fallback
}

public struct RoutingWeights: Sendable, Equatable {
    public var latency: Double
    public var accuracy: Double
    public var cost: Double

    public init(latency: Double = 0.4, accuracy: Double = 0.4, cost: Double = 0.2) {
        self.latency = latency
        self.accuracy = accuracy
        self.cost = cost
    }
}
