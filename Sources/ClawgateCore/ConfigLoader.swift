import Yams

/// Reads the YAML configuration of PROTOCOL.md section 7 into a `GatewayConfig`.
///
/// Validation collects every issue in one pass, each naming the key, what is wrong and what
/// would be right. Keys that are part of the contract but not built yet (`auth`, `redaction`,
/// …) are refused rather than ignored: silently dropping `auth` would expose a gateway its
/// owner believes is protected.
public enum ConfigLoader {
    /// Top-level keys this build reads.
    static let topLevelKeys = ["listen", "providers", "models", "limits"]
    /// Top-level keys of the contract this build does not implement yet.
    static let plannedTopLevelKeys = ["tls", "auth", "metrics_public", "redaction", "audit", "alerts", "redis",
                                      "cache", "sessions"]

    /// `limits` keys and the `Limits` fields they set.
    static var limitKeys: [(key: String, field: WritableKeyPath<Limits, Int>)] { [
        ("max_connections", \.maxConnections),
        ("max_frame_bytes", \.maxFrameBytes),
        ("max_body_bytes", \.maxBodyBytes),
        ("max_inflight", \.maxInflight),
        ("connect_timeout_ms", \.connectTimeoutMs),
        ("first_token_timeout_ms", \.firstTokenTimeoutMs),
        ("idle_timeout_ms", \.idleTimeoutMs),
        ("total_timeout_ms", \.totalTimeoutMs),
        ("slow_consumer_timeout_ms", \.slowConsumerTimeoutMs),
        ("pending_output_high_bytes", \.pendingOutputHighBytes),
    ] }
    static let plannedLimitKeys = ["global_rps"]

    /// Parses and validates `yaml`, resolving every `env:NAME` from `environment`.
    /// An empty document gives the default configuration.
    public static func load(yaml: String, environment: [String: String]) throws(ConfigError) -> GatewayConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(issues: [syntaxIssue(error)])
        }
        guard let root, !ConfigReader.isNull(root) else { return GatewayConfig() }
        var reader = ConfigReader(environment: environment)
        let config = reader.gatewayConfig(root)
        if !reader.issues.isEmpty { throw ConfigError(issues: reader.issues) }
        return config
    }

    /// A YAML syntax error as one issue with its line and column. The offending line itself is
    /// left out: it could hold a secret someone pasted by mistake.
    static func syntaxIssue(_ error: any Error) -> ConfigIssue {
        let expected = "well-formed YAML"
        guard let yamlError = error as? YamlError else {
            return ConfigIssue(path: "(top level)", problem: "the file is not valid YAML", expected: expected)
        }
        func located(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> ConfigIssue {
            let what = [context?.text, problem].compactMap { $0 }.joined(separator: " ")
            return ConfigIssue(path: "line \(mark.line), column \(mark.column)", problem: "YAML syntax error: \(what)",
                               expected: expected)
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(context, problem, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return ConfigIssue(path: "line \(context.mark.line), column \(context.mark.column)",
                               problem: "duplicated key \(keys)", expected: "each key once per mapping")
        case .reader(let problem, _, _, _):
            return ConfigIssue(path: "(top level)", problem: "YAML syntax error: \(problem)", expected: expected)
        default:
            return ConfigIssue(path: "(top level)", problem: "the file is not valid YAML", expected: expected)
        }
    }
}

extension ConfigReader {
    mutating func gatewayConfig(_ root: Node) -> GatewayConfig {
        var config = GatewayConfig()
        guard let top = fields(root, at: "", allowed: ConfigLoader.topLevelKeys,
                               planned: ConfigLoader.plannedTopLevelKeys,
                               expected: "a mapping of top-level keys (listen, providers, models, limits)")
        else { return config }
        if let node = top["listen"], let listen = listenAddress(node, at: "listen") { config.listen = listen }
        var providerNames: [String] = []
        if let node = top["providers"] {
            (config.providers, providerNames) = providers(node, at: "providers")
        }
        if let node = top["models"] { config.models = models(node, at: "models", providerNames: providerNames) }
        if let node = top["limits"] { config.limits = limits(node, at: "limits") }
        return config
    }

    mutating func listenAddress(_ node: Node, at path: String) -> ListenAddress? {
        let expected = "HOST:PORT, e.g. 127.0.0.1:8787 or [::1]:8787"
        guard let text = string(node, at: path, expected: expected) else { return nil }
        guard let address = ListenAddress.parse(text) else {
            add(path, "'\(text)' is not a listen address", expected: expected)
            return nil
        }
        return address
    }

    mutating func limits(_ node: Node, at path: String) -> Limits {
        var limits = Limits()
        let keys = ConfigLoader.limitKeys
        guard let entries = fields(node, at: path, allowed: keys.map(\.key), planned: ConfigLoader.plannedLimitKeys)
        else { return limits }
        for (key, field) in keys {
            if let value = entries[key], let n = positiveInt(value, at: Self.join(path, key)) { limits[keyPath: field] = n }
        }
        return limits
    }
}
