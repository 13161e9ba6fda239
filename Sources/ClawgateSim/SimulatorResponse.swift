/// What the simulator decided to answer to one HTTP request. Built by the routes,
/// carried out by `SimulatorSession`.
enum SimulatorResponse {
    /// A complete body with content-length (JSON answers, errors, non-streaming completions).
    case fixed(status: Int, contentType: String, headers: [(name: String, value: String)], body: [UInt8])
    /// A chunked `text/event-stream` reply, rendered step by step.
    case stream(OpenAIChunkWriter)
    /// Close the connection without answering (`cut{K}` on a non-streaming request).
    case close

    static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> SimulatorResponse {
        .fixed(status: status, contentType: "application/json", headers: headers, body: body)
    }

    static func error(_ e: OpenAIErrorBody) -> SimulatorResponse { .json(e.status, e.body, headers: e.headers) }
}

/// A routed request: the answer, when to start it, and whether it is a counted chat reply.
struct RoutedRequest {
    var response: SimulatorResponse
    var firstByteMs = 0
    /// Chat replies count in `started/completed/aborted/active`; other endpoints do not.
    var isChatReply = false
}
