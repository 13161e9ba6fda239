import ClawgateCore

/// How a finished call went, for the `done` frame, the REST body and the usage ledger.
struct CallSummary {
    var finishReason: String
    var usage: Usage
    var costUsd: Double
    var deployment: Deployment
    var ttftMs: Double
    var latencyMs: Double
    /// Total time minus the time spent waiting on the upstream.
    var overheadMs: Double
    var attempts: Int
}

/// Where a call's output goes: a WebSocket session or a REST exchange. Implemented by each
/// ingress; the call itself knows nothing of frames or HTTP.
protocol CallSink: AnyObject {
    /// The call produced its first client-visible output on `deployment`: from here on it will
    /// not be retried elsewhere.
    func callCommitted(_ call: Call, deployment: Deployment)
    /// Text or tool-call pieces, in order.
    func call(_ call: Call, emitted event: StreamEvent)
    /// Exactly once per call, unless the sink itself went away.
    func callFinished(_ call: Call, result: Result<CallSummary, GatewayError>)
    /// True while the client has more output pending than it should: the call pauses its
    /// upstream and waits for `Call.resumeIfPaused()`.
    var isCongested: Bool { get }
    func callPaused(_ call: Call)
}
