import Testing
@testable import ClawgateCore

@Suite struct ClientFrameTests {
    /// The error a frame fails with; records an issue when it parses.
    func failure(_ frame: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> FrameError? {
        do {
            let parsed = try ClientFrame.parse(frame)
            Issue.record("expected a FrameError, parsed \(parsed)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.error.code == .badRequest, sourceLocation: sourceLocation)
            return error
        }
    }

    // MARK: - Valid frames

    @Test func chatWithPrompt() throws {
        let frame = try ClientFrame.parse(["type": "chat", "id": "a1", "model": "fast", "prompt": "hi"])
        #expect(frame == .chat(id: "a1", request: ChatRequest(model: "fast", messages: [["role": "user", "content": "hi"]])))
    }

    @Test func chatWithEveryField() throws {
        let messages: JSONValue = [
            ["role": "system", "content": "be brief"],
            ["role": "user", "content": [["type": "text", "text": "what is this?"],
                                         ["type": "image_url", "image_url": ["url": "data:image/png;base64,AA"]]]],
            ["role": "assistant", "content": nil, "tool_calls": [["id": "c1", "type": "function"]]],
            ["role": "tool", "content": "42", "tool_call_id": "c1"],
        ]
        let frame = try ClientFrame.parse([
            "type": "chat", "messages": messages, "stream": false, "max_tokens": 100, "temperature": 0.5,
            "top_p": 1, "stop": ["a", "b"], "tools": [["type": "function"]], "tool_choice": "auto", "cache": true,
            "metadata": ["k": "v"], "route": ["strategy": "cost", "weights": ["latency": 1, "accuracy": 0, "cost": 2], "fallbacks": ["smart"]],
        ])
        let expected = ChatRequest(model: "", messages: messages.arrayValue!, stream: false, maxTokens: 100,
                                   temperature: 0.5, topP: 1, stop: ["a", "b"], tools: [["type": "function"]],
                                   toolChoice: "auto", metadata: ["k": "v"],
                                   route: RouteOverride(strategy: .cost,
                                                        weights: RoutingWeights(latency: 1, accuracy: 0, cost: 2),
                                                        fallbacks: ["smart"]))
        #expect(frame == .chat(id: nil, request: expected))
    }

    @Test func otherFrameTypes() throws {
        #expect(try ClientFrame.parse(["type": "hello"]) == .hello(token: nil, resume: nil))
        #expect(try ClientFrame.parse(["type": "hello", "token": "t", "resume": ["session": "s1", "last_seq": 7]])
                == .hello(token: "t", resume: ResumeRequest(session: "s1", lastSeq: 7)))
        #expect(try ClientFrame.parse(["type": "cancel", "id": "r1"]) == .cancel(id: "r1"))
        #expect(try ClientFrame.parse(["type": "ping", "n": 3]) == .ping(["type": "ping", "n": 3]))
        #expect(try ClientFrame.parse(["type": "subscribe", "topic": "metrics", "interval_ms": 250])
                == .subscribe(topic: .metrics, intervalMs: 250))
        #expect(try ClientFrame.parse(["type": "subscribe", "topic": "alerts"]) == .subscribe(topic: .alerts, intervalMs: nil))
        #expect(try ClientFrame.parse(["type": "unsubscribe", "topic": "requests"]) == .unsubscribe(topic: .requests))
        #expect(try ClientFrame.parse(["type": "speech", "id": "s", "input": "hello"]) == .unsupported(type: "speech", id: "s"))
        #expect(try ClientFrame.parse(["type": "image", "prompt": "cat"]) == .unsupported(type: "image", id: nil))
    }

    @Test func idOfExactly64BytesIsAccepted() throws {
        let id = String(repeating: "é", count: 32) // 64 bytes
        #expect(try ClientFrame.parse(["type": "cancel", "id": .string(id)]) == .cancel(id: id))
    }

    // MARK: - Bad frames

    @Test func notAnObjectOrNoType() {
        #expect(failure(["a", "b"])?.error.message == "a frame must be a JSON object, got an array")
        let untyped = failure(["id": "x", "prompt": "hi"])
        #expect(untyped?.id == "x")
        #expect(untyped?.error.param == "type")
        #expect(failure(["type": 3])?.error.message.hasPrefix("type must be a string, got a number") == true)
    }

    @Test func unknownTypeListsValidOnes() {
        let e = failure(["type": "chta", "id": "q"])
        #expect(e?.id == "q")
        #expect(e?.error.message == "unknown frame type 'chta' (did you mean 'chat'?); valid types: "
                + "hello, chat, speech, image, cancel, subscribe, unsubscribe, ping")
    }

    @Test func badIds() {
        let long = failure(["type": "chat", "id": .string(String(repeating: "x", count: 65)), "prompt": "hi"])
        #expect(long?.id == nil)
        #expect(long?.error.param == "id")
        #expect(long?.error.message == "chat.id must be 1 to 64 bytes of UTF-8, got 65 bytes")
        let number = failure(["type": "chat", "id": 5, "prompt": "hi"])
        #expect(number?.id == nil)
        #expect(number?.error.message == "chat.id must be a string, got a number")
        #expect(failure(["type": "speech", "id": ""])?.error.param == "id")
        #expect(failure(["type": "cancel"])?.error.param == "id")
    }

    @Test func unknownChatFieldSuggests() {
        let e = failure(["type": "chat", "id": "r9", "prompt": "hi", "max_token": 5])
        #expect(e?.id == "r9")
        #expect(e?.error.message == "unknown field 'max_token' in chat frame (did you mean 'max_tokens'?)")
        #expect(e?.error.param == "max_token")
    }

    @Test(arguments: [
        (["max_tokens": "10"], "max_tokens", "chat.max_tokens must be a positive integer, got a string"),
        (["max_tokens": 0], "max_tokens", "chat.max_tokens must be a positive integer, got 0"),
        (["max_tokens": 1.5], "max_tokens", "chat.max_tokens must be a positive integer, got 1.5"),
        (["temperature": 2.5], "temperature", "chat.temperature must be a number from 0 to 2, got 2.5"),
        (["top_p": -0.1], "top_p", "chat.top_p must be a number from 0 to 1, got -0.1"),
        (["stream": "yes"], "stream", "chat.stream must be true or false, got a string"),
        (["stop": ["a", "b", "c", "d", "e"]], "stop", "chat.stop must hold at most 4 strings, got 5"),
        (["stop": [1]], "stop", "chat.stop must be a string or an array of strings, got an array holding a number"),
        (["tools": ["x"]], "tools[0]", "chat.tools[0] must be an object, got a string"),
        (["tool_choice": 1], "tool_choice", "chat.tool_choice must be a string (none, auto, required) or an object, got a number"),
        (["model": 3], "model", "chat.model must be a string, got a number"),
        (["metadata": [1]], "metadata", "chat.metadata must be an object, got an array"),
        (["cache": 1], "cache", "chat.cache must be true or false, got a number"),
        (["route": ["strategy": "fastest"]], "route.strategy",
         "chat.route.strategy must be one of weighted, latency, round_robin, least_busy, cost, fallback, got 'fastest'"),
        (["route": ["weights": ["cost": -1]]], "route.weights.cost", "chat.route.weights.cost must be a non-negative number, got -1"),
        (["route": ["fallbacks": "smart"]], "route.fallbacks", "chat.route.fallbacks must be an array of alias names, got a string"),
    ] as [([String: JSONValue], String, String)])
    func badChatFields(extra: [String: JSONValue], param: String, message: String) {
        var frame: [String: JSONValue] = ["type": "chat", "id": "c", "prompt": "hi"]
        frame.merge(extra) { _, new in new }
        let e = failure(.object(frame))
        #expect(e?.id == "c")
        #expect(e?.error.param == param)
        #expect(e?.error.message == message)
    }

    @Test(arguments: [
        (["prompt": ""], "prompt", "chat.prompt must not be empty"),
        (["messages": []], "messages", "chat.messages must not be empty"),
        (["messages": "hi"], "messages", "chat.messages must be an array of messages, got a string"),
        (["messages": ["hi"]], "messages[0]", "chat.messages[0] must be an object, got a string"),
        (["messages": [["role": "bot", "content": "x"]]], "messages[0].role",
         "chat.messages[0].role must be one of system, user, assistant, tool, developer, got 'bot'"),
        (["messages": [["content": "x"]]], "messages[0].role",
         "chat.messages[0].role is required (one of system, user, assistant, tool, developer)"),
        (["messages": [["role": "user", "content": 5]]], "messages[0].content",
         "chat.messages[0].content must be a string or an array of content parts, got a number"),
        (["messages": [["role": "user", "content": [["text": "x"]]]]], "messages[0].content[0].type",
         "chat.messages[0].content[0].type is required (e.g. text, image_url)"),
        (["messages": [["role": "user", "content": nil]]], "messages[0].content",
         "chat.messages[0].content is required: a string or an array of content parts (it may be null only on an assistant message with tool_calls)"),
        (["messages": [["role": "user", "content": "a"]], "prompt": "b"], "messages",
         "a chat frame takes messages or prompt, not both"),
        ([:], "messages", "a chat frame needs messages (an array) or prompt (a string)"),
    ] as [([String: JSONValue], String, String)])
    func badMessages(fields: [String: JSONValue], param: String, message: String) {
        var frame: [String: JSONValue] = ["type": "chat", "id": "m"]
        frame.merge(fields) { _, new in new }
        let e = failure(.object(frame))
        #expect(e?.id == "m")
        #expect(e?.error.param == param)
        #expect(e?.error.message == message)
    }

    @Test func badSubscriptionsAndHello() {
        #expect(failure(["type": "subscribe", "topic": "logs"])?.error.message
                == "subscribe.topic must be one of metrics, alerts, requests, got 'logs'")
        #expect(failure(["type": "subscribe"])?.error.param == "topic")
        #expect(failure(["type": "subscribe", "topic": "metrics", "interval_ms": 50])?.error.message
                == "subscribe.interval_ms must be an integer of at least 100, got 50")
        #expect(failure(["type": "unsubscribe", "topic": 1])?.error.message == "unsubscribe.topic must be a string, got a number")
        #expect(failure(["type": "hello", "token": 1])?.error.param == "token")
        #expect(failure(["type": "hello", "resume": ["session": "s"]])?.error.param == "resume.last_seq")
        #expect(failure(["type": "hello", "resume": ["session": "s", "last_seq": -1]])?.error.message
                == "hello.resume.last_seq must be a non-negative integer, got -1")
        #expect(failure(["type": "hello", "resume": ["last_seq": 0]])?.error.param == "resume.session")
    }
}
