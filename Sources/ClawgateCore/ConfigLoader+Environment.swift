/// What `clawgate serve` found in the environment when started without `--config`.
public struct EnvironmentDiscovery: Sendable, Equatable {
    public var config: GatewayConfig
    /// Human-readable lines for the start-up log: what was found, what was skipped and why.
    /// Never holds a secret value, only variable names.
    public var notes: [String]

    public init(config: GatewayConfig, notes: [String]) {
        self.config = config
        self.notes = notes
    }
}

extension ConfigLoader {
    /// OpenAI models offered as aliases when `OPENAI_API_KEY` is set, with their list prices
    /// (USD per million input / output tokens).
    static let openAIDefaultModels: [(name: String, input: Double, output: Double)] = [
        ("gpt-4o-mini", 0.15, 0.60),
        ("gpt-4o", 2.50, 10.00),
        ("gpt-4.1-mini", 0.40, 1.60),
    ]

    /// A configuration from provider variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
    /// `OLLAMA_HOST`; `ANTHROPIC_API_KEY` and `GEMINI_API_KEY` are noted but not used yet).
    public static func fromEnvironment(_ env: [String: String]) -> EnvironmentDiscovery {
        var config = GatewayConfig()
        var notes: [String] = []
        func isSet(_ name: String) -> Bool { !(env[name] ?? "").isEmpty }

        if isSet("OPENAI_API_KEY") {
            var baseURL = ProviderConfig.defaultBaseURL(for: .openai) ?? ""
            if isSet("OPENAI_BASE_URL"), let custom = env["OPENAI_BASE_URL"] {
                baseURL = String(custom.reversed().drop(while: { $0 == "/" }).reversed())
            }
            config.providers.append(ProviderConfig(name: "openai", kind: .openai, baseURL: baseURL,
                                                   apiKey: env["OPENAI_API_KEY"]))
            for m in openAIDefaultModels {
                config.models.append(ModelAlias(name: m.name, deployments: [
                    Deployment(provider: "openai", model: m.name, inputPerMTok: m.input, outputPerMTok: m.output),
                ]))
            }
            notes.append("provider 'openai' from OPENAI_API_KEY at \(baseURL); aliases: "
                         + openAIDefaultModels.map(\.name).joined(separator: ", "))
        }
        if isSet("OLLAMA_HOST"), let host = env["OLLAMA_HOST"] {
            let baseURL = ollamaBaseURL(host)
            config.providers.append(ProviderConfig(name: "ollama", kind: .openaiCompatible, baseURL: baseURL))
            notes.append("provider 'ollama' from OLLAMA_HOST at \(baseURL); use models as 'ollama/<model>'")
        }
        for (variable, kind) in [("ANTHROPIC_API_KEY", "anthropic"), ("GEMINI_API_KEY", "gemini")] where isSet(variable) {
            notes.append("\(variable) is set but the \(kind) provider is not implemented by this build yet")
        }
        if config.providers.isEmpty {
            notes.append("no provider found in the environment: set OPENAI_API_KEY or OLLAMA_HOST, "
                         + "or pass --config FILE; every chat request will fail until one is configured")
        }
        return EnvironmentDiscovery(config: config, notes: notes)
    }

    /// `OLLAMA_HOST` as Ollama reads it (`host`, `host:port`, `http://host:port`) turned into the
    /// base URL of its OpenAI-compatible API, `<scheme>://host:port/v1`.
    static func ollamaBaseURL(_ host: String) -> String {
        var text = host.trimmingWhitespace()
        while text.hasSuffix("/") { text.removeLast() }
        var scheme = "http"
        if let range = text.range(of: "://") {
            scheme = String(text[..<range.lowerBound])
            text = String(text[range.upperBound...])
        }
        var path = ""
        if let slash = text.firstIndex(of: "/") {
            path = String(text[slash...])
            text = String(text[..<slash])
        }
        let hasPort = text.hasPrefix("[") ? text.contains("]:") : text.contains(":")
        if !hasPort { text += ":11434" }
        // Ollama listens on every interface for 0.0.0.0; a client reaches it on loopback.
        if text.hasPrefix("0.0.0.0:") { text = "127.0.0.1" + text.dropFirst(7) }
        if !path.hasSuffix("/v1") { path += "/v1" }
        return "\(scheme)://\(text)\(path)"
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        let start = scalars.firstIndex { !$0.properties.isWhitespace } ?? scalars.endIndex
        let end = scalars.lastIndex { !$0.properties.isWhitespace }.map { scalars.index(after: $0) } ?? start
        return String(scalars[start..<end])
    }
}
