import Glibc

/// Which answer each request gets. Decides only; `SimulatorSession` carries the answer out.
extension SimulatorServer {
    func route(_ session: SimulatorSession) -> RoutedRequest {
        let path = session.path
        switch (session.method, path) {
        case (.post, "/v1/chat/completions"):
            return chat(session)
        case (.get, "/v1/models"):
            if let denied = checkKey(session) { return denied }
            return RoutedRequest(response: .json(200, modelsBody()))
        case (.get, "/sim/stats"):
            return RoutedRequest(response: .json(200, Self.statsBody(shared.snapshot)))
        case (.post, "/sim/reset"):
            shared.reset()
            return RoutedRequest(response: .json(200, Array("{\"ok\":true}".utf8)))
        default:
            let m = session.method == .post ? "POST" : session.method == .get ? "GET" : "OTHER"
            return RoutedRequest(response: .error(.unknownURL(method: m, path: path)))
        }
    }

    private func checkKey(_ session: SimulatorSession) -> RoutedRequest? {
        guard let key = options.apiKey, session.authorization != "Bearer \(key)" else { return nil }
        return RoutedRequest(response: .error(.invalidAPIKey))
    }

    private func chat(_ session: SimulatorSession) -> RoutedRequest {
        let bodyText = String(decoding: session.requestBody, as: UTF8.self)
        shared.update {
            $0.lastRequestBody = bodyText
            $0.lastAuthorization = session.authorization
        }
        if let denied = checkKey(session) { return denied }
        let request: SimChatRequest
        switch SimChatRequest.parse(session.requestBody) {
        case .success(let r): request = r
        case .failure(let invalid):
            return RoutedRequest(response: .error(.invalidRequest(invalid.message, param: invalid.param)))
        }
        guard let directives = self.directives.directives(for: request.model) else {
            return RoutedRequest(response: .error(.modelNotFound(request.model)), isChatReply: true)
        }
        var routed = RoutedRequest(response: .close, firstByteMs: directives.firstByteMs, isChatReply: true)
        if let status = directives.errorStatus {
            routed.response = .error(.simulated(status: status, model: request.model))
            return routed
        }
        let reply = SimulatedReply(directives: directives, request: request)
        let writer = OpenAIChunkWriter(reply: reply, id: makeReplyID(), created: time(nil))
        if request.stream {
            routed.response = .stream(writer)
        } else if reply.ending == .cut {
            routed.response = .close
        } else if reply.ending == .midStreamError {
            routed.response = .error(.simulated(status: 500, model: request.model))
        } else {
            routed.response = .json(200, writer.completionBody())
        }
        return routed
    }

    private func modelsBody() -> [UInt8] {
        var out: [UInt8] = []
        JSONBytes.append("{\"object\":\"list\",\"data\":[{\"id\":\"sim\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"clawgate-sim\"}]}", to: &out)
        return out
    }

    static func statsBody(_ s: SimulatorStats) -> [UInt8] {
        var out: [UInt8] = []
        JSONBytes.append("{\"started\":", to: &out)
        JSONBytes.appendDecimal(s.started, to: &out)
        JSONBytes.append(",\"completed\":", to: &out)
        JSONBytes.appendDecimal(s.completed, to: &out)
        JSONBytes.append(",\"aborted\":", to: &out)
        JSONBytes.appendDecimal(s.aborted, to: &out)
        JSONBytes.append(",\"active\":", to: &out)
        JSONBytes.appendDecimal(s.active, to: &out)
        JSONBytes.append(",\"connections\":", to: &out)
        JSONBytes.appendDecimal(s.connections, to: &out)
        JSONBytes.append(",\"lastRequestBody\":", to: &out)
        if let b = s.lastRequestBody { JSONBytes.appendQuoted(b, to: &out) } else { JSONBytes.append("null", to: &out) }
        JSONBytes.append(",\"lastAuthorization\":", to: &out)
        if let a = s.lastAuthorization { JSONBytes.appendQuoted(a, to: &out) } else { JSONBytes.append("null", to: &out) }
        JSONBytes.append("}", to: &out)
        return out
    }
}
