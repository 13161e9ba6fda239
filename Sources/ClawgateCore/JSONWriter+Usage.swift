extension JSONWriter {
    /// The `usage` object both doors write: OpenAI's three counts, and `estimated` when the
    /// gateway counted the tokens itself.
    public mutating func usage(_ u: Usage) {
        raw("{\"prompt_tokens\":")
        int(u.promptTokens)
        raw(",\"completion_tokens\":")
        int(u.completionTokens)
        raw(",\"total_tokens\":")
        int(u.totalTokens)
        if u.estimated { raw(",\"estimated\":true") }
        raw("}")
    }
}
