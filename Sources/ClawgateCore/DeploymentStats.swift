/// Live figures of one deployment, as the router sees them.
public struct DeploymentStats: Sendable, Equatable {
    /// Requests started and not yet ended.
    public var inflight: Int
    /// Exponentially weighted moving average of time to first token; nil before any success.
    public var ewmaTTFTMs: Double?
    /// EWMA of output tokens per second after the first token; nil before any measurable success.
    public var ewmaTokensPerSecond: Double?
    /// EWMA of outcomes (1 failure, 0 success), in 0...1.
    public var errorRate: Double
    public var circuit: CircuitBreaker.State

    public init(inflight: Int = 0, ewmaTTFTMs: Double? = nil, ewmaTokensPerSecond: Double? = nil, errorRate: Double = 0,
                circuit: CircuitBreaker.State = .closed) {
        self.inflight = inflight
        self.ewmaTTFTMs = ewmaTTFTMs
        self.ewmaTokensPerSecond = ewmaTokensPerSecond
        self.errorRate = errorRate
        self.circuit = circuit
    }
}

/// The mutable per-deployment record inside `Router`.
struct DeploymentState {
    /// Weight of the newest sample in every moving average.
    static let alpha = 0.2

    var inflight = 0
    var ewmaTTFTMs: Double?
    var ewmaTokensPerSecond: Double?
    var errorRate = 0.0
    var breaker: CircuitBreaker

    init(breaker: CircuitBreaker) {
        self.breaker = breaker
    }

    static func ewma(_ old: Double?, _ sample: Double) -> Double {
        guard let old else { return sample }
        return old + alpha * (sample - old)
    }

    mutating func ended() { inflight = max(0, inflight - 1) }

    mutating func succeeded(ttftMs: Double, outputTokens: Int, durationMs: Double) {
        ended()
        ewmaTTFTMs = Self.ewma(ewmaTTFTMs, max(0, ttftMs))
        let streamingSeconds = (durationMs - ttftMs) / 1000
        if outputTokens > 0, streamingSeconds > 0 {
            ewmaTokensPerSecond = Self.ewma(ewmaTokensPerSecond, Double(outputTokens) / streamingSeconds)
        }
        errorRate = Self.ewma(errorRate, 0)
    }

    mutating func failed() {
        ended()
        errorRate = Self.ewma(errorRate, 1)
    }

    func stats(at now: Double) -> DeploymentStats {
        DeploymentStats(inflight: inflight, ewmaTTFTMs: ewmaTTFTMs, ewmaTokensPerSecond: ewmaTokensPerSecond,
                        errorRate: errorRate, circuit: breaker.state(at: now))
    }
}
