import Testing
@testable import ClawgateCore

@Suite struct EnvironmentDiscoveryTests {
    @Test func openAIKeyGivesProviderAndAliases() {
        let found = ConfigLoader.fromEnvironment(["OPENAI_API_KEY": "sk-secret-123"])
        #expect(found.config.providers == [ProviderConfig(name: "openai", kind: .openai,
                                                          baseURL: "https://api.openai.com/v1", apiKey: "sk-secret-123")])
        #expect(found.config.models.map(\.name) == ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"])
        #expect(found.config.models[1].deployments == [Deployment(provider: "openai", model: "gpt-4o",
                                                                  inputPerMTok: 2.50, outputPerMTok: 10.00)])
        #expect(!found.notes.joined().contains("sk-secret-123"))
    }

    @Test func openAIBaseURLOverride() {
        let found = ConfigLoader.fromEnvironment(["OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"])
        #expect(found.config.providers.first?.baseURL == "http://127.0.0.1:9/v1")
    }

    @Test(arguments: [
        ("127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
        ("http://gpu-box:8080", "http://gpu-box:8080/v1"),
        ("https://ollama.example/", "https://ollama.example:11434/v1"),
        ("0.0.0.0", "http://127.0.0.1:11434/v1"),
        ("http://h:1/v1", "http://h:1/v1"),
    ])
    func ollamaHost(host: String, baseURL: String) {
        let found = ConfigLoader.fromEnvironment(["OLLAMA_HOST": host])
        #expect(found.config.providers == [ProviderConfig(name: "ollama", kind: .openaiCompatible, baseURL: baseURL)])
        #expect(found.config.models.isEmpty)
    }

    @Test func unimplementedProvidersAreNoted() {
        let found = ConfigLoader.fromEnvironment(["ANTHROPIC_API_KEY": "a-secret", "GEMINI_API_KEY": "g-secret"])
        #expect(found.notes.contains("ANTHROPIC_API_KEY is set but the anthropic provider is not implemented by this build yet"))
        #expect(found.notes.contains("GEMINI_API_KEY is set but the gemini provider is not implemented by this build yet"))
        #expect(found.config.providers.isEmpty)
        #expect(found.notes.contains { $0.contains("no provider found") })
        #expect(!found.notes.joined().contains("secret"))
    }

    @Test func nothingFoundSaysHowToFixIt() {
        let found = ConfigLoader.fromEnvironment(["OPENAI_API_KEY": ""])
        #expect(found.config == GatewayConfig())
        #expect(found.notes.count == 1)
        #expect(found.notes[0].contains("OPENAI_API_KEY") && found.notes[0].contains("OLLAMA_HOST")
                && found.notes[0].contains("--config"))
    }
}
