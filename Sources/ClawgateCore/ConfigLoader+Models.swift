import Yams

extension ConfigReader {
    static let aliasKeys = ["strategy", "weights", "deployments", "fallbacks"]
    static let weightKeys = ["latency", "accuracy", "cost"]
    static let deploymentKeys = ["provider", "model", "accuracy", "input_per_mtok", "output_per_mtok", "max_concurrency"]

    mutating func models(_ node: Node, at path: String, providerNames: [String]) -> [ModelAlias] {
        guard let entries = mapping(node, at: path, expected: "a mapping of alias name to alias settings")
        else { return [] }
        let aliasNames = entries.map(\.key)
        var aliases: [ModelAlias] = []
        for (name, value) in entries {
            let entryPath = Self.join(path, name)
            if name.isEmpty || name.contains("/") {
                add(entryPath, "alias name '\(name)' is empty or contains '/'",
                    expected: "a name without '/' (provider/model names are reserved for direct access)")
                continue
            }
            if let alias = alias(named: name, value, at: entryPath, providerNames: providerNames, aliasNames: aliasNames) {
                aliases.append(alias)
            }
        }
        reportFallbackCycles(aliases, at: path)
        return aliases
    }

    mutating func alias(named name: String, _ node: Node, at path: String, providerNames: [String],
                        aliasNames: [String]) -> ModelAlias? {
        guard let fields = fields(node, at: path, allowed: Self.aliasKeys,
                                  expected: "a mapping with strategy, weights, deployments and fallbacks")
        else { return nil }
        let issuesBefore = issues.count
        var alias = ModelAlias(name: name, deployments: [])
        if let node = fields["strategy"],
           let strategy = choice(node, at: Self.join(path, "strategy"), of: RoutingStrategy.self, what: "strategy") {
            alias.strategy = strategy
        }
        if let node = fields["weights"] { alias.weights = weights(node, at: Self.join(path, "weights")) }

        let deploymentsPath = Self.join(path, "deployments")
        if let node = fields["deployments"], let list = sequence(node, at: deploymentsPath,
                                                                 expected: "a non-empty list of deployments") {
            if list.isEmpty {
                add(deploymentsPath, "the list is empty", expected: "at least one {provider, model} deployment")
            }
            for (i, item) in list.enumerated() {
                if let d = deployment(item, at: "\(deploymentsPath)[\(i)]", providerNames: providerNames) {
                    alias.deployments.append(d)
                }
            }
        } else if fields["deployments"] == nil {
            add(deploymentsPath, "missing required key", expected: "a non-empty list of {provider, model} deployments")
        }

        let fallbacksPath = Self.join(path, "fallbacks")
        if let node = fields["fallbacks"], let list = sequence(node, at: fallbacksPath,
                                                               expected: "a list of alias names") {
            for (i, item) in list.enumerated() {
                let itemPath = "\(fallbacksPath)[\(i)]"
                guard let target = self.name(item, at: itemPath, expected: "an alias name") else { continue }
                if target == name {
                    add(itemPath, "alias '\(name)' lists itself as a fallback", expected: "another alias")
                } else if !aliasNames.contains(target) {
                    add(itemPath, "unknown alias '\(target)'" + Suggestion.didYouMean(target, among: aliasNames),
                        expected: "one of the aliases under 'models': " + aliasNames.joined(separator: ", "))
                } else {
                    alias.fallbacks.append(target)
                }
            }
        }
        return issues.count == issuesBefore ? alias : nil
    }

    mutating func weights(_ node: Node, at path: String) -> RoutingWeights {
        var weights = RoutingWeights()
        guard let fields = fields(node, at: path, allowed: Self.weightKeys) else { return weights }
        let fieldsByKey: [(String, WritableKeyPath<RoutingWeights, Double>)] =
            [("latency", \.latency), ("accuracy", \.accuracy), ("cost", \.cost)]
        for (key, field) in fieldsByKey {
            if let node = fields[key], let value = number(node, at: Self.join(path, key), in: 0...Double.greatestFiniteMagnitude,
                                                          expected: "a non-negative number") {
                weights[keyPath: field] = value
            }
        }
        return weights
    }

    mutating func deployment(_ node: Node, at path: String, providerNames: [String]) -> Deployment? {
        guard let fields = fields(node, at: path, allowed: Self.deploymentKeys,
                                  expected: "a mapping with provider and model")
        else { return nil }
        let issuesBefore = issues.count
        var provider: String?
        let providerPath = Self.join(path, "provider")
        let known = providerNames.isEmpty ? "a provider declared under 'providers' (none is)"
                                          : "one of the configured providers: " + providerNames.joined(separator: ", ")
        if let node = fields["provider"] {
            if let name = name(node, at: providerPath, expected: known) {
                if providerNames.contains(name) {
                    provider = name
                } else {
                    add(providerPath, "unknown provider '\(name)'" + Suggestion.didYouMean(name, among: providerNames),
                        expected: known)
                }
            }
        } else {
            add(providerPath, "missing required key", expected: known)
        }
        var model: String?
        let modelPath = Self.join(path, "model")
        if let node = fields["model"] {
            model = name(node, at: modelPath, expected: "the upstream model name, a non-empty string")
        } else {
            add(modelPath, "missing required key", expected: "the upstream model name, a non-empty string")
        }
        var d = Deployment(provider: provider ?? "", model: model ?? "")
        if let node = fields["accuracy"],
           let v = number(node, at: Self.join(path, "accuracy"), in: 0...1, expected: "a number from 0 to 1") {
            d.accuracy = v
        }
        let prices: [(String, WritableKeyPath<Deployment, Double>)] =
            [("input_per_mtok", \.inputPerMTok), ("output_per_mtok", \.outputPerMTok)]
        for (key, field) in prices {
            if let node = fields[key], let v = number(node, at: Self.join(path, key), in: 0...Double.greatestFiniteMagnitude,
                                                      expected: "a non-negative price in USD per million tokens") {
                d[keyPath: field] = v
            }
        }
        if let node = fields["max_concurrency"] {
            d.maxConcurrency = positiveInt(node, at: Self.join(path, "max_concurrency"))
        }
        return issues.count == issuesBefore ? d : nil
    }

    /// Reports each cycle of fallbacks once, at the first alias of the cycle in file order.
    mutating func reportFallbackCycles(_ aliases: [ModelAlias], at path: String) {
        let graph = Dictionary(aliases.map { ($0.name, $0.fallbacks) }, uniquingKeysWith: { first, _ in first })
        var reported = Set<String>()
        for alias in aliases where !reported.contains(alias.name) {
            guard let cycle = Self.cycle(from: alias.name, in: graph) else { continue }
            reported.formUnion(cycle)
            add(Self.join(Self.join(path, alias.name), "fallbacks"),
                "fallbacks form a cycle: " + (cycle + [alias.name]).joined(separator: " -> "),
                expected: "fallback chains that end")
        }
    }

    /// A path of aliases from `start` that leads back to `start`, if any.
    static func cycle(from start: String, in graph: [String: [String]]) -> [String]? {
        var visited = Set<String>()
        func walk(_ node: String, _ trail: [String]) -> [String]? {
            for next in graph[node] ?? [] {
                if next == start { return trail }
                if visited.insert(next).inserted, let found = walk(next, trail + [next]) { return found }
            }
            return nil
        }
        return walk(start, [start])
    }
}
