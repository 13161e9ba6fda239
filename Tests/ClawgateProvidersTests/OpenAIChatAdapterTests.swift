import ClawgateCore
@testable import ClawgateProviders
import Foundation
import Testing

/// The OpenAI wire format against payloads recorded from OpenAI's documentation
/// (Fixtures/openai, sources in its README).
struct OpenAIChatAdapterTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/openai/\(name)", withExtension: nil))
        return Array(try Data(contentsOf: url))
    }

    /// Feeds `bytes` to a fresh decoder in pieces of `split` bytes and collects the events.
    static func decode(_ bytes: [UInt8], split: Int) -> ([StreamEvent], sawEnd: Bool) {
        let d = OpenAIStreamDecoder()
        var events: [StreamEvent] = []
        var i = 0
        while i < bytes.count {
            let piece = Array(bytes[i..<min(bytes.count, i + split)])
            piece.withUnsafeBytes { d.feed($0) { events.append($0) } }
            i += split
        }
        return (events, d.sawEnd)
    }

    static func text(_ events: [StreamEvent]) -> String {
        events.map { if case .text(let s) = $0 { return s } else { return "" } }.joined()
    }

    @Test(arguments: [1, 2, 7, 64, 1000, 1 << 20])
    func streamDecodesTheSameAtAnyChunkBoundary(split: Int) throws {
        let bytes = try Self.fixture("chat_stream.sse")
        let (events, sawEnd) = Self.decode(bytes, split: split)
        let whole = Self.decode(bytes, split: bytes.count).0
        #expect(events == whole)
        #expect(sawEnd)
        #expect(Self.text(events).hasPrefix("I'm unable to provide"))
        #expect(events.contains(.finish("stop")))
        #expect(events.contains(.usage(Usage(promptTokens: 14, completionTokens: 30))))
        #expect(!events.contains { if case .error = $0 { return true } else { return false } })
    }

    @Test func toolCallDeltasKeepOpenAIsShape() throws {
        let (events, sawEnd) = Self.decode(try Self.fixture("chat_stream_tool_calls.sse"), split: 13)
        #expect(sawEnd)
        var name = ""
        var args = ""
        for case .toolCalls(let v) in events {
            for call in v.arrayValue ?? [] {
                #expect(call["index"]?.numberValue == 0)
                name += call["function"]?["name"]?.stringValue ?? ""
                args += call["function"]?["arguments"]?.stringValue ?? ""
            }
        }
        #expect(name == "get_weather")
        #expect(args.hasPrefix("{") && args.hasSuffix("}"))
        #expect(events.contains(.finish("tool_calls")))
        #expect(Self.text(events).isEmpty)
    }

    @Test func aStreamCutBeforeDoneIsNotAnEnd() throws {
        let bytes = try Self.fixture("chat_stream.sse")
        let cut = Array(bytes.prefix(bytes.count / 2))
        #expect(Self.decode(cut, split: 100).sawEnd == false)
    }

    @Test func anErrorEventInsideTheStreamIsSurfaced() {
        let bytes = Array(#"data: {"error":{"message":"overloaded right now","type":"server_error","param":null,"code":null}}"#.utf8) + [10, 10]
        let (events, _) = Self.decode(bytes, split: 5)
        #expect(events.count == 1)
        guard case .error(let e) = events.first else {
            Issue.record("expected an error event, got \(events)")
            return
        }
        #expect(e.code == .upstreamError)
        #expect(e.message.contains("overloaded right now"))
    }

    @Test func aNonJSONEventIsAnErrorNotASilentSkip() {
        let (events, _) = Self.decode(Array("data: {broken\n\n".utf8), split: 3)
        guard case .error(let e)? = events.first else {
            Issue.record("expected an error, got \(events)")
            return
        }
        #expect(e.message.contains("not JSON"))
    }

    @Test func errorBodiesGiveTheProvidersMessage() throws {
        let a = OpenAIChatAdapter()
        #expect(a.errorMessage(status: 429, body: try Self.fixture("error_429.json")).hasPrefix("You exceeded your current quota"))
        #expect(a.errorMessage(status: 500, body: Array("upstream exploded".utf8)) == "upstream exploded")
        #expect(a.errorMessage(status: 502, body: []) == "HTTP 502")
    }

    @Test func requestEncodingStreamsAsksForUsageAndPassesExtrasThrough() throws {
        var r = ChatRequest(model: "fast", messages: [["role": "user", "content": "hi"]], stream: false, maxTokens: 12,
                            temperature: 0.5, stop: ["END"], metadata: ["trace": "x"], extra: ["seed": 7, "stream": false, "model": "evil"])
        r.route = RouteOverride(strategy: .cost)
        let provider = ProviderConfig(name: "openai", kind: .openai, baseURL: "https://api.example.test/v1", apiKey: "sk-test")
        let up = OpenAIChatAdapter().makeRequest(r, deployment: Deployment(provider: "openai", model: "gpt-x"), provider: provider)
        #expect(up.url == "https://api.example.test/v1/chat/completions")
        #expect(up.headers.contains("Authorization: Bearer sk-test"))
        let body = try Jansson.parse(up.body).get()
        #expect(body["model"] == "gpt-x")
        #expect(body["stream"] == true)
        #expect(body["stream_options"]?["include_usage"] == true)
        #expect(body["max_tokens"] == 12)
        #expect(body["temperature"] == 0.5)
        #expect(body["stop"] == ["END"])
        #expect(body["seed"] == 7)
        #expect(body["messages"] == [["role": "user", "content": "hi"]])
        #expect(body["metadata"] == nil)
        #expect(body["route"] == nil)
    }

    @Test func extrasNamingAGatewayOwnedFieldAreNotSentTwice() throws {
        let r = ChatRequest(model: "fast", messages: [["role": "user", "content": "x"]], temperature: 0.7,
                            extra: ["stream": false, "model": "evil", "temperature": 2, "stream_options": [:], "user": "u1"])
        let provider = ProviderConfig(name: "local", kind: .openaiCompatible, baseURL: "http://127.0.0.1:8000/v1")
        let up = OpenAIChatAdapter().makeRequest(r, deployment: Deployment(provider: "local", model: "m"), provider: provider)
        let text = String(decoding: up.body, as: UTF8.self)
        for key in ["\"model\":", "\"stream\":", "\"temperature\":", "\"stream_options\":"] {
            #expect(text.components(separatedBy: key).count == 2, "\(key) appears once in \(text)")
        }
        let body = try Jansson.parse(up.body).get()
        #expect(body["model"] == "m")
        #expect(body["temperature"] == 0.7)
        #expect(body["user"] == "u1")
        #expect(body["stream_options"]?["include_usage"] == true)
    }

    @Test func noAuthorizationHeaderWithoutAKey() {
        let provider = ProviderConfig(name: "local", kind: .openaiCompatible, baseURL: "http://127.0.0.1:8000/v1")
        let up = OpenAIChatAdapter().makeRequest(ChatRequest(model: "m", messages: []), deployment: Deployment(provider: "local", model: "m"), provider: provider)
        #expect(!up.headers.contains { $0.lowercased().hasPrefix("authorization") })
    }
}

/// The scanner fast path must decode every chunk exactly as the jansson path does, or decline.
struct OpenAIFastPathTests {
    static func events(of sse: [UInt8]) -> [[UInt8]] {
        var p = SSEParser()
        var out: [[UInt8]] = []
        p.feed(sse) { out.append($0.data) }
        return out
    }

    static let tricky: [String] = [
        #"{"choices":[{"index":0,"delta":{"content":"esc \" \\ \n \u00e9 \ud83d\ude00 /"},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"length"}],"usage":null}"#,
        #"{"choices":[],"usage":{"prompt_tokens":14,"completion_tokens":30,"total_tokens":44,"completion_tokens_details":{"reasoning_tokens":0}}}"#,
        #"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
        #"{"error":{"message":"boom"}}"#,
        #"{"choices":[{"delta":{"content":"a"}}], "extra": [1, {"k": [true, false, null, -1.5e-3]}]}"#,
        #"{"choices":[{"delta":{"content":"x"}}]} trailing"#,
        #"{"usage":{"prompt_tokens":1.5}}"#,
    ]

    @Test func fastPathAgreesWithJanssonOnEveryChunk() throws {
        var chunks = Self.events(of: try OpenAIChatAdapterTests.fixture("chat_stream.sse"))
        chunks += Self.events(of: try OpenAIChatAdapterTests.fixture("chat_stream_tool_calls.sse"))
        chunks += Self.tricky.map { Array($0.utf8) }
        var fastCount = 0
        for data in chunks where data != Array("[DONE]".utf8) {
            var slow: [StreamEvent] = []
            data.withUnsafeBytes { OpenAIStreamDecoder.decodeWithJansson($0) { slow.append($0) } }
            var fast: [StreamEvent] = []
            var fresh = RepeatedPrefix()
            let handled = data.withUnsafeBytes { OpenAIStreamDecoder.decodeCommon($0, prefix: &fresh) { fast.append($0) } }
            if handled {
                fastCount += 1
                #expect(fast == slow, "\(String(decoding: data, as: UTF8.self))")
            } else {
                #expect(fast.isEmpty)
            }
        }
        // Text, finish and usage chunks (most of a stream) take the fast path.
        #expect(fastCount >= 30)
    }

    /// Chunks read in stream order with one remembered prefix: each one after the first starts
    /// with the last one's members before `choices`, is read from there, still on the fast path,
    /// and decodes as jansson decodes it. A prefix that changes mid-stream, a chunk whose first
    /// member of interest comes earlier, and one that breaks after a matching prefix are read
    /// correctly too.
    @Test func chunksReadAfterARememberedPrefixAgreeWithJansson() throws {
        var chunks = Self.events(of: try OpenAIChatAdapterTests.fixture("chat_stream.sse"))
            .filter { $0 != Array("[DONE]".utf8) }
        let head = #"{"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"#
        let moved = head.replacingOccurrences(of: "1727346168", with: "1727346169")
        chunks += [
            head + #""model":"m","choices":[{"index":0,"delta":{"content":"same head"},"finish_reason":null}]}"#,
            moved + #""model":"m","choices":[{"index":0,"delta":{"content":"new head"},"finish_reason":null}]}"#,
            moved + #""usage":{"prompt_tokens":2,"completion_tokens":3},"model":"m","choices":[]}"#,
            moved + #""model":"m","choices":[{"index":0,"delta":{"content":"x"}}],"error":{"message":"late"}}"#,
            moved + #""model":"m","choices":[{"index":0,"delta":{"content":"cut"#,
        ].map { Array($0.utf8) }
        var prefix = RepeatedPrefix()
        var resumed = 0
        for (n, data) in chunks.enumerated() {
            var slow: [StreamEvent] = []
            data.withUnsafeBytes { OpenAIStreamDecoder.decodeWithJansson($0) { slow.append($0) } }
            let matched = data.withUnsafeBytes { prefix.match($0) } != nil
            var fast: [StreamEvent] = []
            let handled = data.withUnsafeBytes { OpenAIStreamDecoder.decodeCommon($0, prefix: &prefix) { fast.append($0) } }
            let text = String(decoding: data, as: UTF8.self)
            if handled {
                #expect(fast == slow, "\(text)")
            } else {
                #expect(fast.isEmpty, "\(text)")
            }
            if matched {
                resumed += 1
                // The fixture's chunks and the well-formed extra ones stay on the fast path.
                #expect(handled || n >= chunks.count - 2, "\(text)")
            }
            if n == 0 { #expect(prefix.count > RepeatedPrefix.minimumLength) }
        }
        #expect(resumed >= chunks.count - 4)
    }
}
