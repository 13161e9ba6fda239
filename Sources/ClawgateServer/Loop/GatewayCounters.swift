import ClawgateCore

/// Running totals kept by the loop: requests by outcome, tokens, cost. Only touched on the lws
/// service thread. The metrics door and live frames will read these.
final class GatewayCounters {
    var inflight = 0
    var wsConnections = 0
    var requestsByCode: [String: Int] = [:]
    var tokensIn = 0
    var tokensOut = 0
    var estimatedTokens = 0
    var costUsd = 0.0

    func record(_ result: Result<CallSummary, GatewayError>) {
        switch result {
        case .success: requestsByCode["ok", default: 0] += 1
        case .failure(let e): requestsByCode[e.code.rawValue, default: 0] += 1
        }
    }

    func recordUsage(_ u: Usage, deployment: Deployment?) {
        tokensIn += u.promptTokens
        tokensOut += u.completionTokens
        if u.estimated { estimatedTokens += u.totalTokens }
        if let deployment { costUsd += deployment.cost(of: u) }
    }
}

@available(*, unavailable) extension GatewayCounters: Sendable {}
