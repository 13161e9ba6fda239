import Testing
@testable import ClawgateCore

@Suite struct ConfigLoaderTests {
    let env = ["OPENAI_API_KEY": "sk-test-secret-value"]

    static let fullConfig = """
        listen: 0.0.0.0:9000
        providers:
          openai: { kind: openai, api_key: env:OPENAI_API_KEY }
          vllm:   { kind: openai_compatible, base_url: http://127.0.0.1:8000/v1/ }
        models:
          fast:
            strategy: cost
            weights: { latency: 0.4, accuracy: 0.5, cost: 0.1 }
            deployments:
              - { provider: openai, model: gpt-4o-mini, accuracy: 0.92, input_per_mtok: 0.15, output_per_mtok: 0.60 }
              - { provider: vllm, model: llama3.2, max_concurrency: 4 }
            fallbacks: [smart]
          smart:
            deployments: [ { provider: openai, model: gpt-4o } ]
        limits:
          max_connections: 100
          max_frame_bytes: 2097152
          idle_timeout_ms: 1500
        """

    func issues(_ yaml: String, env: [String: String]? = nil) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, environment: env ?? self.env)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func fullConfigLoads() throws {
        let config = try ConfigLoader.load(yaml: Self.fullConfig, environment: env)
        #expect(config.listen == ListenAddress(host: "0.0.0.0", port: 9000))
        #expect(config.providers == [
            ProviderConfig(name: "openai", kind: .openai, baseURL: "https://api.openai.com/v1",
                           apiKey: "sk-test-secret-value"),
            ProviderConfig(name: "vllm", kind: .openaiCompatible, baseURL: "http://127.0.0.1:8000/v1"),
        ])
        #expect(config.models == [
            ModelAlias(name: "fast", strategy: .cost, weights: RoutingWeights(latency: 0.4, accuracy: 0.5, cost: 0.1),
                       deployments: [
                           Deployment(provider: "openai", model: "gpt-4o-mini", accuracy: 0.92, inputPerMTok: 0.15,
                                      outputPerMTok: 0.60),
                           Deployment(provider: "vllm", model: "llama3.2", maxConcurrency: 4),
                       ], fallbacks: ["smart"]),
            ModelAlias(name: "smart", deployments: [Deployment(provider: "openai", model: "gpt-4o")]),
        ])
        var limits = Limits()
        limits.maxConnections = 100
        limits.idleTimeoutMs = 1500
        limits.maxFrameBytes = 2_097_152
        #expect(config.limits == limits)
    }

    @Test func emptyDocumentGivesDefaults() throws {
        #expect(try ConfigLoader.load(yaml: "", environment: [:]) == GatewayConfig())
        #expect(try ConfigLoader.load(yaml: "# only a comment\n", environment: [:]) == GatewayConfig())
    }

    @Test func topLevelMustBeAMapping() {
        let found = issues("- a\n- b\n")
        #expect(found.count == 1)
        #expect(found.first?.path == "(top level)")
        #expect(found.first?.problem.contains("got a list") == true)
    }

    @Test func syntaxErrorNamesTheLine() {
        let found = issues("listen: 127.0.0.1:1\nproviders: {a: [\n")
        #expect(found.count == 1)
        #expect(found.first?.path.hasPrefix("line ") == true)
        #expect(found.first?.problem.hasPrefix("YAML syntax error") == true)
    }

    @Test(arguments: ["tls", "auth", "metrics_public", "redaction", "audit", "alerts", "redis", "cache", "sessions"])
    func plannedSectionsAreRefused(key: String) {
        let found = issues("\(key): {}\n")
        #expect(found == [ConfigIssue(
            path: key, problem: "'\(key)' is part of the configuration contract but this build does not implement it yet",
            expected: "remove the key")])
    }

    @Test func globalRpsIsRefused() {
        let found = issues("limits: { global_rps: 5 }\n")
        #expect(found.map(\.path) == ["limits.global_rps"])
        #expect(found.first?.problem.contains("does not implement it yet") == true)
    }

    @Test func unknownKeysSuggestCloseOnes() {
        let found = issues("""
            lisen: 127.0.0.1:1
            limits: { max_conections: 5 }
            providers:
              openai: { kind: openai, api_key: env:OPENAI_API_KEY, baseurl: http://x }
            """)
        // Issues come in the order the sections are checked: listen, providers, models, limits.
        #expect(found.map(\.path) == ["lisen", "providers.openai.baseurl", "limits.max_conections"])
        #expect(found[0].problem == "unknown key 'lisen' (did you mean 'listen'?)")
        #expect(found[1].problem == "unknown key 'baseurl' (did you mean 'base_url'?)")
        #expect(found[1].expected == "one of: kind, base_url, api_key")
        #expect(found[2].problem == "unknown key 'max_conections' (did you mean 'max_connections'?)")
    }

    @Test func wrongTypesNameThePath() {
        let found = issues("""
            listen: 8787
            limits: { max_frame_bytes: "abc", idle_timeout_ms: 0, max_body_bytes: 1.5 }
            """)
        #expect(found.map(\.path) == ["listen", "limits.max_frame_bytes", "limits.max_body_bytes", "limits.idle_timeout_ms"])
        #expect(found[1].problem == "expected a positive integer, got a string")
        #expect(found[2].problem == "expected a positive integer, got a number")
        #expect(found[3].problem == "0 is not positive")
        #expect(issues("listen: nonsense\n").first?.problem == "'nonsense' is not a listen address")
    }

    @Test func providerIssues() {
        let found = issues("""
            providers:
              a: { kind: anthropic, api_key: env:ANTHROPIC_API_KEY }
              b: { kind: opneai, api_key: env:OPENAI_API_KEY }
              c: { kind: openai_compatible }
              d: { kind: openai, base_url: ftp://x }
              e: { kind: openai }
              "bad name": { kind: openai_compatible, base_url: http://x }
              f: { api_key: env:OPENAI_API_KEY }
            """, env: ["ANTHROPIC_API_KEY": "x", "OPENAI_API_KEY": "y"])
        #expect(found.map(\.path) == [
            "providers.a.kind", "providers.b.kind", "providers.c.base_url", "providers.d.base_url",
            "providers.d.api_key", "providers.e.api_key", "providers.bad name", "providers.f.kind",
        ])
        #expect(found[0].problem == "provider kind 'anthropic' is not implemented by this build yet")
        #expect(found[1].problem == "unknown provider kind 'opneai' (did you mean 'openai'?)")
        #expect(found[3].problem == "'ftp://x' is not an http:// or https:// URL")
    }

    @Test func secretsComeFromTheEnvironmentOnly() {
        let literal = issues("providers:\n  o: { kind: openai, api_key: sk-live-abcdef }\n")
        #expect(literal.map(\.path) == ["providers.o.api_key"])
        #expect(literal[0].problem.contains("secrets are never written in the config file"))
        #expect(!ConfigError(issues: literal).description.contains("sk-live-abcdef"))

        let unset = issues("providers:\n  o: { kind: openai, api_key: env:MY_KEY }\n", env: [:])
        #expect(unset.first?.problem == "environment variable MY_KEY is not set")
        let empty = issues("providers:\n  o: { kind: openai, api_key: env:MY_KEY }\n", env: ["MY_KEY": ""])
        #expect(empty.first?.problem == "environment variable MY_KEY is empty")
    }

    @Test func modelIssuesHaveExactPaths() {
        let found = issues("""
            providers:
              openai: { kind: openai, api_key: env:OPENAI_API_KEY }
            models:
              fast:
                strategy: fastest
                weights: { latency: -1 }
                deployments:
                  - { provider: opnai, model: gpt-4o-mini, accuracy: 1.5 }
                  - { provider: openai, model: "", input_per_mtok: -2, max_concurrency: 0 }
                fallbacks: [fast, smrt]
              smart: { deployments: [] }
              "a/b": { deployments: [ { provider: openai, model: x } ] }
              none: {}
            """)
        #expect(found.map(\.path) == [
            "models.fast.strategy", "models.fast.weights.latency",
            "models.fast.deployments[0].provider", "models.fast.deployments[0].accuracy",
            "models.fast.deployments[1].model", "models.fast.deployments[1].input_per_mtok",
            "models.fast.deployments[1].max_concurrency",
            "models.fast.fallbacks[0]", "models.fast.fallbacks[1]",
            "models.smart.deployments", "models.a/b", "models.none.deployments",
        ])
        #expect(found[2].problem == "unknown provider 'opnai' (did you mean 'openai'?)")
        #expect(found[2].expected == "one of the configured providers: openai")
        #expect(found[8].problem == "unknown alias 'smrt' (did you mean 'smart'?)")
    }

    @Test func fallbackCyclesAreReportedOnce() {
        let found = issues("""
            providers:
              openai: { kind: openai, api_key: env:OPENAI_API_KEY }
            models:
              a: { deployments: [ { provider: openai, model: x } ], fallbacks: [b] }
              b: { deployments: [ { provider: openai, model: y } ], fallbacks: [c] }
              c: { deployments: [ { provider: openai, model: z } ], fallbacks: [a] }
              d: { deployments: [ { provider: openai, model: w } ], fallbacks: [a] }
            """)
        #expect(found == [ConfigIssue(path: "models.a.fallbacks", problem: "fallbacks form a cycle: a -> b -> c -> a",
                                      expected: "fallback chains that end")])
    }

    @Test func manyIssuesAreCollectedAndDescribed() {
        let error = ConfigError(issues: issues("auth: {}\nlisten: x\nlimits: { max_inflight: -3 }\n"))
        #expect(error.issues.count == 3)
        #expect(error.description.split(separator: "\n") == [
            "auth: 'auth' is part of the configuration contract but this build does not implement it yet (expected remove the key)",
            "listen: 'x' is not a listen address (expected HOST:PORT, e.g. 127.0.0.1:8787 or [::1]:8787)",
            "limits.max_inflight: -3 is not positive (expected a positive integer)",
        ])
    }

    @Test func deploymentOfBrokenProviderIsNotReportedTwice() {
        let found = issues("""
            providers:
              claude: { kind: anthropic }
            models:
              m: { deployments: [ { provider: claude, model: x } ] }
            """)
        #expect(found.map(\.path) == ["providers.claude.kind"])
    }

    @Test func anchorsAndAliasesResolve() throws {
        let config = try ConfigLoader.load(yaml: "limits:\n  max_inflight: &n 7\n  max_connections: *n\n", environment: [:])
        #expect(config.limits.maxInflight == 7)
        #expect(config.limits.maxConnections == 7)
    }

    @Test func duplicatedKeysAreOneIssue() {
        let found = issues("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n")
        #expect(found.count == 1)
        #expect(found.first?.problem == "duplicated key 'listen'")
    }

    @Test func quotedNumbersAreStrings() {
        #expect(issues("limits: { max_inflight: \"10\" }\n").first?.problem == "expected a positive integer, got a string")
    }
}
