// TEMPORARY: stand-ins with the agreed signatures until branch `core` lands. Deleted at merge.
public final class Router {
    let config: GatewayConfig
    public init(config: GatewayConfig, now: @escaping () -> Double) { self.config = config }
    public func plan(model: String, route: RouteOverride?) throws(GatewayError) -> RoutePlan {
        let name = model.isEmpty ? (config.models.first?.name ?? "") : model
        guard let alias = config.model(named: name) else { throw GatewayError(.notFound, "unknown model '\(model)'") }
        var attempts = alias.deployments
        for f in alias.fallbacks { attempts += config.model(named: f)?.deployments ?? [] }
        return RoutePlan(alias: name, attempts: attempts)
    }
    public func recordStart(_ d: Deployment) {}
    public func recordSuccess(_ d: Deployment, ttftMs: Double, outputTokens: Int, durationMs: Double) {}
    public func recordFailure(_ d: Deployment) {}
    public func recordCancelled(_ d: Deployment) {}
}
public struct RoutePlan: Sendable, Equatable {
    public var alias: String
    public var attempts: [Deployment]
}
public enum TokenEstimator {
    public static func estimateTokens(_ text: String) -> Int { text.isEmpty ? 0 : max(1, (text.utf8.count + 3) / 4) }
    public static func estimatePromptTokens(_ messages: [JSONValue]) -> Int {
        messages.reduce(0) { $0 + 4 + estimateTokens($1["content"]?.stringValue ?? "") }
    }
}
public struct OpenAIChatBody: Sendable, Equatable {
    public var request: ChatRequest
    public var includeUsage: Bool
    public static func decode(_ body: JSONValue) throws(GatewayError) -> OpenAIChatBody {
        guard let model = body["model"]?.stringValue else { throw .badRequest("model is required", param: "model") }
        guard let messages = body["messages"]?.arrayValue, !messages.isEmpty else { throw .badRequest("messages is required", param: "messages") }
        return OpenAIChatBody(request: ChatRequest(model: model, messages: messages, stream: body["stream"]?.boolValue ?? false),
                              includeUsage: body["stream_options"]?["include_usage"]?.boolValue ?? false)
    }
}
extension ClientFrame {
    public static func parse(_ value: JSONValue) throws(FrameError) -> ClientFrame {
        guard let type = value["type"]?.stringValue else { throw FrameError(id: nil, error: .badRequest("no type")) }
        let id = value["id"]?.stringValue
        switch type {
        case "ping": return .ping(value)
        case "cancel": return .cancel(id: id ?? "")
        case "chat":
            let messages: [JSONValue] = value["messages"]?.arrayValue ?? [["role": "user", "content": value["prompt"] ?? ""]]
            return .chat(id: id, request: ChatRequest(model: value["model"]?.stringValue ?? "", messages: messages))
        default: throw FrameError(id: id, error: .badRequest("unknown type"))
        }
    }
}
public struct ConfigError: Error, CustomStringConvertible { public var issues: [String]; public var description: String { issues.joined(separator: "\n") } }
public struct EnvironmentDiscovery: Sendable { public var config: GatewayConfig; public var notes: [String] }
public enum ConfigLoader {
    public static func load(yaml: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig { GatewayConfig() }
    public static func fromEnvironment(_ env: [String: String]) -> EnvironmentDiscovery {
        guard let base = env["OPENAI_BASE_URL"] else { return EnvironmentDiscovery(config: GatewayConfig(), notes: []) }
        let p = ProviderConfig(name: "openai", kind: .openaiCompatible, baseURL: base, apiKey: env["OPENAI_API_KEY"])
        return EnvironmentDiscovery(config: GatewayConfig(providers: [p], models: [ModelAlias(name: "fast", deployments: [Deployment(provider: "openai", model: env["SIM_MODEL"] ?? "sim", inputPerMTok: 1, outputPerMTok: 2)])]), notes: [])
    }
}
