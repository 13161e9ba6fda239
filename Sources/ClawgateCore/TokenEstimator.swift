/// Rough token counts for when a provider reports no usage (and for limits before a request is
/// sent): about four bytes of UTF-8 per token, as OpenAI's own rule of thumb.
public enum TokenEstimator {
    /// ceil(UTF-8 bytes / 4); at least 1 for non-empty text, 0 for empty text.
    public static func estimateTokens(_ text: String) -> Int {
        let bytes = text.utf8.count
        return bytes == 0 ? 0 : max(1, (bytes + 3) / 4)
    }

    /// Tokens of the text in OpenAI-shaped messages (string contents and `text` parts), plus 4
    /// per message for the role and framing.
    public static func estimatePromptTokens(_ messages: [JSONValue]) -> Int {
        var total = 0
        for message in messages {
            total += 4
            switch message["content"] {
            case .string(let text)?:
                total += estimateTokens(text)
            case .array(let parts)?:
                for part in parts {
                    if part["type"]?.stringValue == "text", let text = part["text"]?.stringValue {
                        total += estimateTokens(text)
                    }
                }
            default:
                break
            }
        }
        return total
    }
}
