/// An error the gateway reports to a client: one of the section 6 codes plus a message that
/// says what was wrong. Never carries a secret, a stack or prompt text.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// The request field the error is about, when there is one (OpenAI's `error.param`).
    public var param: String?
    /// For `rate_limited`: when to retry.
    public var retryAfterMs: Int?

    public init(_ code: ErrorCode, _ message: String, param: String? = nil, retryAfterMs: Int? = nil) {
        self.code = code
        self.message = message
        self.param = param
        self.retryAfterMs = retryAfterMs
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func badRequest(_ message: String, param: String? = nil) -> GatewayError {
        GatewayError(.badRequest, message, param: param)
    }
}
