import Yams

extension ConfigReader {
    static let providerKeys = ["kind", "base_url", "api_key"]

    /// True for names made of `[A-Za-z0-9_.-]`, at least one character.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { s in
            s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "_" || s == "." || s == "-")
        }
    }

    /// The valid providers, and the names of every provider entry (valid or not), so model
    /// deployments naming a broken provider are not reported a second time.
    mutating func providers(_ node: Node, at path: String) -> ([ProviderConfig], [String]) {
        guard let entries = mapping(node, at: path, expected: "a mapping of provider name to provider settings")
        else { return ([], []) }
        var configs: [ProviderConfig] = []
        var names: [String] = []
        for (name, value) in entries {
            let entryPath = Self.join(path, name)
            names.append(name)
            guard Self.isValidName(name) else {
                add(entryPath, "provider name '\(name)' has characters other than letters, digits, '_', '.' and '-'",
                    expected: "a name matching [A-Za-z0-9_.-]+")
                continue
            }
            if let provider = provider(named: name, value, at: entryPath) { configs.append(provider) }
        }
        return (configs, names)
    }

    mutating func provider(named name: String, _ node: Node, at path: String) -> ProviderConfig? {
        guard let fields = fields(node, at: path, allowed: Self.providerKeys,
                                  expected: "a mapping with kind, base_url and api_key")
        else { return nil }
        let issuesBefore = issues.count

        var kind: ProviderKind?
        let kindPath = Self.join(path, "kind")
        if let node = fields["kind"] {
            kind = choice(node, at: kindPath, of: ProviderKind.self, what: "provider kind")
        } else {
            add(kindPath, "missing required key",
                expected: "one of: " + ProviderKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if let k = kind, !k.isImplemented {
            let implemented = ProviderKind.allCases.filter(\.isImplemented).map(\.rawValue)
            add(kindPath, "provider kind '\(k.rawValue)' is not implemented by this build yet",
                expected: "one of the implemented kinds: " + implemented.joined(separator: ", "))
            kind = nil
        }

        let urlPath = Self.join(path, "base_url")
        var baseURL: String?
        if let node = fields["base_url"] {
            baseURL = self.baseURL(node, at: urlPath)
        } else if let kind {
            baseURL = ProviderConfig.defaultBaseURL(for: kind)
            if baseURL == nil {
                add(urlPath, "missing required key for kind '\(kind.rawValue)'", expected: "an http:// or https:// URL")
            }
        }

        let keyPath = Self.join(path, "api_key")
        var apiKey: String?
        if let node = fields["api_key"] {
            apiKey = secret(node, at: keyPath)
        } else if kind == .openai {
            add(keyPath, "missing required key for kind 'openai'",
                expected: "env:NAME, with NAME set to the API key in the environment")
        }

        guard issues.count == issuesBefore, let kind, let baseURL else { return nil }
        return ProviderConfig(name: name, kind: kind, baseURL: baseURL, apiKey: apiKey)
    }

    /// An http(s) URL without its trailing slashes.
    mutating func baseURL(_ node: Node, at path: String) -> String? {
        let expected = "an http:// or https:// URL"
        guard var url = string(node, at: path, expected: expected) else { return nil }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"),
              url.drop(while: { $0 != ":" }).dropFirst(3).contains(where: { $0 != "/" })
        else {
            add(path, "'\(url)' is not an http:// or https:// URL", expected: expected)
            return nil
        }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// An `env:NAME` reference resolved from the environment. Never puts a value in an issue.
    mutating func secret(_ node: Node, at path: String) -> String? {
        let expected = "env:NAME, with NAME set in the environment"
        guard case .scalar(let scalar) = node else {
            add(path, "expected env:NAME, got \(Self.typeName(node))", expected: expected)
            return nil
        }
        let text = scalar.string
        guard text.hasPrefix("env:") else {
            add(path, "secrets are never written in the config file; write env:NAME and set NAME in the environment",
                expected: "env:NAME")
            return nil
        }
        let name = String(text.dropFirst(4))
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
              name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic)
                                               || ("0"..."9").contains($0) })
        else {
            add(path, "'env:\(name)' does not name an environment variable",
                expected: "env:NAME where NAME is letters, digits and '_'")
            return nil
        }
        guard let value = environment[name], !value.isEmpty else {
            let state = environment[name] == nil ? "is not set" : "is empty"
            add(path, "environment variable \(name) \(state)", expected: "\(name) set in the environment")
            return nil
        }
        return value
    }
}
