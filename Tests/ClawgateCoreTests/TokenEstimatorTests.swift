import Testing
@testable import ClawgateCore

@Suite struct TokenEstimatorTests {
    @Test func textTokens() {
        #expect(TokenEstimator.estimateTokens("") == 0)
        #expect(TokenEstimator.estimateTokens("a") == 1)
        #expect(TokenEstimator.estimateTokens("abcd") == 1)
        #expect(TokenEstimator.estimateTokens("abcde") == 2)
        #expect(TokenEstimator.estimateTokens("héllo") == 2) // 6 bytes
    }

    @Test func promptTokensCountTextAndFraming() {
        let messages: [JSONValue] = [
            ["role": "system", "content": "12345678"],                                  // 4 + 2
            ["role": "user", "content": [["type": "text", "text": "abcd"],
                                         ["type": "image_url", "image_url": ["url": "data:xxxxxxxxxxxx"]]]], // 4 + 1
            ["role": "assistant", "content": nil, "tool_calls": []],                     // 4
        ]
        #expect(TokenEstimator.estimatePromptTokens(messages) == 15)
    }
}
