/// The gateway's configuration once loaded, validated and with every `env:NAME` resolved.
/// A plain `Sendable` value: runtime objects are built from it once at start-up.
public struct GatewayConfig: Sendable, Equatable {
    public var listen: ListenAddress
    /// Providers by config name, in file order.
    public var providers: [ProviderConfig]
    /// Model aliases by name, in file order.
    public var models: [ModelAlias]
    public var limits: Limits
    public var sessions: SessionsConfig

    public init(listen: ListenAddress = ListenAddress(), providers: [ProviderConfig] = [],
                models: [ModelAlias] = [], limits: Limits = Limits(), sessions: SessionsConfig = SessionsConfig()) {
        self.listen = listen
        self.providers = providers
        self.models = models
        self.limits = limits
        self.sessions = sessions
    }

    public func provider(named name: String) -> ProviderConfig? { providers.first { $0.name == name } }
    public func model(named name: String) -> ModelAlias? { models.first { $0.name == name } }
}

public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    /// 0 asks the kernel for a free port (tests).
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 8787) {
        self.host = host
        self.port = port
    }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `HOST:PORT`, `[V6]:PORT` or `:PORT`. Returns nil when malformed.
    public static func parse(_ text: String) -> ListenAddress? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        if host.isEmpty { host = "127.0.0.1" }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return ListenAddress(host: String(host), port: port)
    }
}

public enum ProviderKind: String, Sendable, CaseIterable {
    case openai
    case openaiCompatible = "openai_compatible"
    case anthropic, gemini, ollama, azure, espeak

    /// Kinds this build can execute. The others are part of the contract and are refused by
    /// config validation with a clear message until their adapter lands.
    public var isImplemented: Bool {
        switch self {
        case .openai, .openaiCompatible: return true
        case .anthropic, .gemini, .ollama, .azure, .espeak: return false
        }
    }
}

public struct ProviderConfig: Sendable, Equatable {
    public var name: String
    public var kind: ProviderKind
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    public var baseURL: String
    /// The resolved secret (from `env:NAME`); never logged.
    public var apiKey: String?

    public init(name: String, kind: ProviderKind, baseURL: String, apiKey: String? = nil) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    /// The default base URL of a kind, when the config gives none.
    public static func defaultBaseURL(for kind: ProviderKind) -> String? {
        switch kind {
        case .openai: return "https://api.openai.com/v1"
        case .anthropic: return "https://api.anthropic.com"
        case .gemini: return "https://generativelanguage.googleapis.com"
        case .ollama: return "http://127.0.0.1:11434"
        case .openaiCompatible, .azure, .espeak: return nil
        }
    }
}

/// A model name clients use: an alias for a pool of deployments.
public struct ModelAlias: Sendable, Equatable {
    public var name: String
    public var strategy: RoutingStrategy
    public var weights: RoutingWeights
    public var deployments: [Deployment]
    /// Other aliases tried, in order, when every deployment of this one failed.
    public var fallbacks: [String]

    public init(name: String, strategy: RoutingStrategy = .weighted, weights: RoutingWeights = RoutingWeights(),
                deployments: [Deployment], fallbacks: [String] = []) {
        self.name = name
        self.strategy = strategy
        self.weights = weights
        self.deployments = deployments
        self.fallbacks = fallbacks
    }
}

/// One provider + upstream model that can serve an alias.
public struct Deployment: Sendable, Equatable, Hashable {
    /// The provider's config name.
    public let provider: String
    /// The model name sent upstream.
    public let model: String
    /// "provider/model", the deployment's name in frames and metrics, and the key of its live
    /// figures: stored, because the router looks it up several times per request.
    public let name: String
    /// Configured quality score in 0...1 (used by the weighted strategy).
    public var accuracy: Double
    /// USD per million input tokens.
    public var inputPerMTok: Double
    /// USD per million output tokens.
    public var outputPerMTok: Double
    /// At most this many requests in flight on this deployment (nil: no cap).
    public var maxConcurrency: Int?

    public init(provider: String, model: String, accuracy: Double = 0.5, inputPerMTok: Double = 0,
                outputPerMTok: Double = 0, maxConcurrency: Int? = nil) {
        self.provider = provider
        self.model = model
        name = "\(provider)/\(model)"
        self.accuracy = accuracy
        self.inputPerMTok = inputPerMTok
        self.outputPerMTok = outputPerMTok
        self.maxConcurrency = maxConcurrency
    }

    /// Cost in USD of a usage at this deployment's configured prices.
    public func cost(of usage: Usage) -> Double {
        (Double(usage.promptTokens) * inputPerMTok + Double(usage.completionTokens) * outputPerMTok) / 1_000_000
    }
}

public struct Limits: Sendable, Equatable {
    public var maxConnections: Int
    public var maxFrameBytes: Int
    public var maxBodyBytes: Int
    /// Requests in flight across the gateway; past it new requests get `overloaded`.
    public var maxInflight: Int
    public var connectTimeoutMs: Int
    public var firstTokenTimeoutMs: Int
    public var idleTimeoutMs: Int
    public var totalTimeoutMs: Int
    /// A client that has not drained its pending output for this long gets `slow_consumer`.
    public var slowConsumerTimeoutMs: Int
    /// Bytes of pending output per connection above which upstream transfers are paused.
    public var pendingOutputHighBytes: Int

    public init(maxConnections: Int = 20000, maxFrameBytes: Int = 1 << 20, maxBodyBytes: Int = 4 << 20,
                maxInflight: Int = 10000, connectTimeoutMs: Int = 5000, firstTokenTimeoutMs: Int = 30000,
                idleTimeoutMs: Int = 30000, totalTimeoutMs: Int = 600_000, slowConsumerTimeoutMs: Int = 30000,
                pendingOutputHighBytes: Int = 256 << 10) {
        self.maxConnections = maxConnections
        self.maxFrameBytes = maxFrameBytes
        self.maxBodyBytes = maxBodyBytes
        self.maxInflight = maxInflight
        self.connectTimeoutMs = connectTimeoutMs
        self.firstTokenTimeoutMs = firstTokenTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.totalTimeoutMs = totalTimeoutMs
        self.slowConsumerTimeoutMs = slowConsumerTimeoutMs
        self.pendingOutputHighBytes = pendingOutputHighBytes
    }
}

public struct SessionsConfig: Sendable, Equatable {
    public var resumeGraceMs: Int
    public var replayBufferBytes: Int

    public init(resumeGraceMs: Int = 60000, replayBufferBytes: Int = 1 << 20) {
        self.resumeGraceMs = resumeGraceMs
        self.replayBufferBytes = replayBufferBytes
    }
}
