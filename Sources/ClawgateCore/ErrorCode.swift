/// The public error codes of PROTOCOL.md section 6. A struct over a private enum, so new codes
/// can be added without breaking exhaustive switches in callers.
public struct ErrorCode: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: String, Sendable {
        case badRequest = "bad_request", tooLarge = "too_large", unauthorized, forbidden
        case notFound = "not_found", duplicateId = "duplicate_id", rateLimited = "rate_limited"
        case overloaded, upstreamError = "upstream_error", upstreamTimeout = "upstream_timeout"
        case cancelled, slowConsumer = "slow_consumer", `internal`
    }
    private let kind: Kind

    public static let badRequest = ErrorCode(kind: .badRequest)
    public static let tooLarge = ErrorCode(kind: .tooLarge)
    public static let unauthorized = ErrorCode(kind: .unauthorized)
    public static let forbidden = ErrorCode(kind: .forbidden)
    public static let notFound = ErrorCode(kind: .notFound)
    public static let duplicateId = ErrorCode(kind: .duplicateId)
    public static let rateLimited = ErrorCode(kind: .rateLimited)
    public static let overloaded = ErrorCode(kind: .overloaded)
    public static let upstreamError = ErrorCode(kind: .upstreamError)
    public static let upstreamTimeout = ErrorCode(kind: .upstreamTimeout)
    public static let cancelled = ErrorCode(kind: .cancelled)
    public static let slowConsumer = ErrorCode(kind: .slowConsumer)
    public static let `internal` = ErrorCode(kind: .internal)

    /// The wire name, e.g. `bad_request`.
    public var rawValue: String { kind.rawValue }
    public var description: String { kind.rawValue }

    /// HTTP status for REST doors (section 6). `slow_consumer` only exists on WebSockets.
    public var httpStatus: Int {
        switch kind {
        case .badRequest: return 400
        case .tooLarge: return 413
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .duplicateId: return 409
        case .rateLimited: return 429
        case .overloaded: return 503
        case .upstreamError: return 502
        case .upstreamTimeout: return 504
        case .cancelled: return 499
        case .slowConsumer: return 408
        case .internal: return 500
        }
    }

    /// The HTTP reason phrase of `httpStatus`.
    public var reasonPhrase: String { "\(HTTPStatus.reasonPhrase(httpStatus))" }

    /// OpenAI's `error.type` for the same condition.
    public var openAIType: String {
        switch kind {
        case .badRequest, .tooLarge, .duplicateId: return "invalid_request_error"
        case .unauthorized: return "authentication_error"
        case .forbidden: return "permission_error"
        case .notFound: return "not_found_error"
        case .rateLimited: return "rate_limit_error"
        case .upstreamTimeout, .slowConsumer: return "timeout_error"
        case .overloaded, .upstreamError, .cancelled, .internal: return "api_error"
        }
    }

    /// Anthropic's `error.type` for the same condition (used on `/v1/messages`).
    public var anthropicType: String {
        switch kind {
        case .badRequest, .tooLarge, .duplicateId, .cancelled: return "invalid_request_error"
        case .unauthorized: return "authentication_error"
        case .forbidden: return "permission_error"
        case .notFound: return "not_found_error"
        case .rateLimited: return "rate_limit_error"
        case .overloaded: return "overloaded_error"
        case .upstreamTimeout, .slowConsumer, .upstreamError, .internal: return "api_error"
        }
    }
}
