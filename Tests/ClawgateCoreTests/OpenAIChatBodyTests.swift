import Testing
@testable import ClawgateCore

@Suite struct OpenAIChatBodyTests {
    let hi: JSONValue = [["role": "user", "content": "hi"]]

    func failure(_ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> GatewayError? {
        do {
            let decoded = try OpenAIChatBody.decode(body)
            Issue.record("expected an error, decoded \(decoded)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == .badRequest, sourceLocation: sourceLocation)
            return error
        }
    }

    @Test func minimalBodyDoesNotStream() throws {
        let body = try OpenAIChatBody.decode(["model": "fast", "messages": hi])
        #expect(body == OpenAIChatBody(request: ChatRequest(model: "fast", messages: hi.arrayValue!, stream: false)))
    }

    @Test func everyInterpretedFieldAndPassthrough() throws {
        let body = try OpenAIChatBody.decode([
            "model": "fast", "messages": hi, "stream": true, "stream_options": ["include_usage": true],
            "max_tokens": 10, "temperature": 1.2, "top_p": 0.9, "stop": "END", "tools": [["type": "function"]],
            "tool_choice": "auto", "n": 1, "seed": 7, "user": "u1", "response_format": ["type": "json_object"],
        ])
        #expect(body.includeUsage)
        #expect(body.request == ChatRequest(
            model: "fast", messages: hi.arrayValue!, stream: true, maxTokens: 10, temperature: 1.2, topP: 0.9,
            stop: "END", tools: [["type": "function"]], toolChoice: "auto",
            extra: ["seed": 7, "user": "u1", "response_format": ["type": "json_object"]]))
    }

    @Test func maxCompletionTokensWins() throws {
        let body = try OpenAIChatBody.decode(["model": "m", "messages": hi, "max_tokens": 10, "max_completion_tokens": 20])
        #expect(body.request.maxTokens == 20)
    }

    @Test(arguments: [
        (["messages": [["role": "user", "content": "hi"]]], "model", "model is required: the model alias to use"),
        (["model": "", "messages": [["role": "user", "content": "hi"]]], "model", "model must not be empty"),
        (["model": "m"], "messages", "messages is required: a non-empty array of messages"),
        (["model": "m", "messages": []], "messages", "messages must not be empty"),
        (["model": "m", "messages": [["role": "robot", "content": "x"]]], "messages[0].role",
         "messages[0].role must be one of system, user, assistant, tool, developer, got 'robot'"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "n": 2], "n",
         "n must be 1: this gateway returns one choice per request, got 2"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "max_completion_tokens": "5"],
         "max_completion_tokens", "max_completion_tokens must be a positive integer, got a string"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "stream": 1], "stream",
         "stream must be true or false, got a number"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "stream_options": ["include_usage": "y"]],
         "stream_options.include_usage", "stream_options.include_usage must be true or false, got a string"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "tool_choice": 3], "tool_choice",
         "tool_choice must be a string (none, auto, required) or an object, got a number"),
        (["model": "m", "messages": [["role": "user", "content": "x"]], "temperature": 3], "temperature",
         "temperature must be a number from 0 to 2, got 3"),
    ] as [([String: JSONValue], String, String)])
    func badBodies(body: [String: JSONValue], param: String, message: String) {
        let e = failure(.object(body))
        #expect(e?.param == param)
        #expect(e?.message == message)
    }

    @Test func bodyMustBeAnObject() {
        #expect(failure("text")?.message == "the request body must be a JSON object, got a string")
    }
}
