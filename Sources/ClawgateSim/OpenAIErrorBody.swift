/// An error answer in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
/// The status → type/code table follows OpenAI's documented error codes.
struct OpenAIErrorBody: Equatable, Sendable {
    var status: Int
    var message: String
    var type: String
    var param: String?
    var code: String?
    /// Extra response headers, e.g. `retry-after` on 429.
    var headers: [(name: String, value: String)] = []

    static func == (a: Self, b: Self) -> Bool {
        a.status == b.status && a.message == b.message && a.type == b.type && a.param == b.param && a.code == b.code
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// What `e{STATUS}` answers.
    static func simulated(status: Int, model: String) -> OpenAIErrorBody {
        switch status {
        case 400:
            return .init(status: 400, message: "Simulated invalid request.", type: "invalid_request_error", param: nil, code: nil)
        case 401:
            return invalidAPIKey
        case 404:
            return modelNotFound(model)
        case 429:
            return .init(status: 429,
                         message: "Rate limit reached for \(model) in organization org-sim on requests per min (RPM): Limit 1, Used 1, Requested 1. Please try again in 1s.",
                         type: "requests", param: nil, code: "rate_limit_exceeded",
                         headers: [("retry-after", "1")])
        case 503:
            return .init(status: 503, message: "The engine is currently overloaded, please try again later.",
                         type: "server_error", param: nil, code: "overloaded")
        case 500...:
            return .init(status: status, message: "The server had an error while processing your request. Sorry about that!",
                         type: "server_error", param: nil, code: nil)
        default:
            return .init(status: status, message: "Simulated error \(status).", type: "invalid_request_error", param: nil, code: nil)
        }
    }

    static let invalidAPIKey = OpenAIErrorBody(
        status: 401, message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error", param: nil, code: "invalid_api_key")

    static func modelNotFound(_ model: String) -> OpenAIErrorBody {
        .init(status: 404, message: "The model `\(model)` does not exist or you do not have access to it.",
              type: "invalid_request_error", param: nil, code: "model_not_found")
    }

    static func invalidRequest(_ message: String, param: String?) -> OpenAIErrorBody {
        .init(status: 400, message: message, type: "invalid_request_error", param: param, code: nil)
    }

    static func unknownURL(method: String, path: String) -> OpenAIErrorBody {
        .init(status: 404, message: "Invalid URL (\(method) \(path))", type: "invalid_request_error", param: nil, code: nil)
    }

    var body: [UInt8] {
        var out: [UInt8] = []
        JSONBytes.append("{\"error\":{\"message\":", to: &out)
        JSONBytes.appendQuoted(message, to: &out)
        JSONBytes.append(",\"type\":", to: &out)
        JSONBytes.appendQuoted(type, to: &out)
        JSONBytes.append(",\"param\":", to: &out)
        if let param { JSONBytes.appendQuoted(param, to: &out) } else { JSONBytes.append("null", to: &out) }
        JSONBytes.append(",\"code\":", to: &out)
        if let code { JSONBytes.appendQuoted(code, to: &out) } else { JSONBytes.append("null", to: &out) }
        JSONBytes.append("}}", to: &out)
        return out
    }
}
