/// A Prometheus-style cumulative histogram over fixed buckets (seconds).
public struct Histogram: Sendable, Equatable {
    /// Upper bounds in seconds: fine below a millisecond (gateway overhead), coarse up to a
    /// minute (long generations).
    public static let bucketsSeconds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    public private(set) var counts = [Int](repeating: 0, count: Histogram.bucketsSeconds.count)
    public private(set) var sum = 0.0
    public private(set) var count = 0

    public init() {}

    public mutating func observe(seconds: Double) {
        count += 1
        sum += seconds
        if let i = Self.bucketsSeconds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
    }
}

/// Everything `/metrics` reports that the loop accumulates: per-request outcomes, latency
/// histograms, tokens and cost. A value owned by the loop, updated once per request (never
/// per chunk), rendered in the Prometheus text format 0.0.4 (PROTOCOL.md section 8).
public struct GatewayMetrics: Sendable {
    public struct RequestKey: Hashable, Sendable {
        public var model: String
        public var provider: String
        public var code: String
    }

    public private(set) var requests: [RequestKey: Int] = [:]
    public private(set) var duration: [String: Histogram] = [:]
    public private(set) var ttft: [String: Histogram] = [:]
    public private(set) var overhead = Histogram()
    public private(set) var tokens: [String: (input: Int, output: Int)] = [:]
    public private(set) var estimatedTokens = 0
    public private(set) var costUsd: [String: Double] = [:]
    public private(set) var rateLimited = 0

    public init() {}

    /// One finished (or refused) request. `code` is `ok` or a section 6 code.
    public mutating func recordRequest(model: String, provider: String, code: String, durationMs: Double?,
                                       ttftMs: Double?, overheadMs: Double?) {
        requests[RequestKey(model: model, provider: provider, code: code), default: 0] += 1
        if let durationMs { duration[model, default: Histogram()].observe(seconds: durationMs / 1000) }
        if let ttftMs { ttft[model, default: Histogram()].observe(seconds: ttftMs / 1000) }
        if let overheadMs { overhead.observe(seconds: overheadMs / 1000) }
        if code == ErrorCode.rateLimited.rawValue { rateLimited += 1 }
    }

    public mutating func recordUsage(model: String, usage: Usage, costUsd cost: Double) {
        Self.add(usage, to: &tokens[model, default: (0, 0)])
        if usage.estimated { estimatedTokens += usage.totalTokens }
        costUsd[model, default: 0] += cost
    }

    /// In place, so the model's entry is looked up once.
    private static func add(_ usage: Usage, to t: inout (input: Int, output: Int)) {
        t.input += usage.promptTokens
        t.output += usage.completionTokens
    }

    /// Point-in-time values the loop reads when rendering.
    public struct Gauges: Sendable {
        public var connections: Int
        public var sessions: Int
        public var inflight: Int
        /// Deployment name → circuit open.
        public var circuits: [(String, Bool)]

        public init(connections: Int, sessions: Int, inflight: Int, circuits: [(String, Bool)]) {
            self.connections = connections
            self.sessions = sessions
            self.inflight = inflight
            self.circuits = circuits
        }
    }

    public func render(_ g: Gauges) -> String {
        var out = ""
        func head(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func histogram(_ name: String, _ labels: String, _ h: Histogram) {
            var cumulative = 0
            let sep = labels.isEmpty ? "" : labels + ","
            for (i, bound) in Histogram.bucketsSeconds.enumerated() {
                cumulative += h.counts[i]
                out += "\(name)_bucket{\(sep)le=\"\(Self.number(bound))\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{\(sep)le=\"+Inf\"} \(h.count)\n"
            let braces = labels.isEmpty ? "" : "{\(labels)}"
            out += "\(name)_sum\(braces) \(Self.number(h.sum))\n\(name)_count\(braces) \(h.count)\n"
        }
        head("clawgate_requests_total", "counter", "Requests finished, by model alias, provider and outcome code.")
        for (k, v) in requests.sorted(by: { ($0.key.model, $0.key.provider, $0.key.code) < ($1.key.model, $1.key.provider, $1.key.code) }) {
            out += "clawgate_requests_total{model=\"\(Self.label(k.model))\",provider=\"\(Self.label(k.provider))\",code=\"\(Self.label(k.code))\"} \(v)\n"
        }
        head("clawgate_request_duration_seconds", "histogram", "Time from accepting a request to its last byte, by model alias.")
        for (model, h) in duration.sorted(by: { $0.key < $1.key }) { histogram("clawgate_request_duration_seconds", "model=\"\(Self.label(model))\"", h) }
        head("clawgate_time_to_first_token_seconds", "histogram", "Time from accepting a request to its first token, by model alias.")
        for (model, h) in ttft.sorted(by: { $0.key < $1.key }) { histogram("clawgate_time_to_first_token_seconds", "model=\"\(Self.label(model))\"", h) }
        head("clawgate_overhead_seconds", "histogram", "Gateway time per request: total time minus time waiting on the upstream.")
        histogram("clawgate_overhead_seconds", "", overhead)
        head("clawgate_tokens_total", "counter", "Tokens by model alias and direction (in = prompt, out = completion).")
        for (model, t) in tokens.sorted(by: { $0.key < $1.key }) {
            out += "clawgate_tokens_total{model=\"\(Self.label(model))\",direction=\"in\"} \(t.input)\n"
            out += "clawgate_tokens_total{model=\"\(Self.label(model))\",direction=\"out\"} \(t.output)\n"
        }
        head("clawgate_estimated_tokens_total", "counter", "Tokens counted by the gateway because the provider reported no usage.")
        out += "clawgate_estimated_tokens_total \(estimatedTokens)\n"
        head("clawgate_cost_usd_total", "counter", "Cost at the configured prices, by model alias.")
        for (model, c) in costUsd.sorted(by: { $0.key < $1.key }) { out += "clawgate_cost_usd_total{model=\"\(Self.label(model))\"} \(Self.number(c))\n" }
        head("clawgate_connections", "gauge", "Open client connections (WebSocket and HTTP with a request in progress).")
        out += "clawgate_connections \(g.connections)\n"
        head("clawgate_sessions", "gauge", "Open hub sessions.")
        out += "clawgate_sessions \(g.sessions)\n"
        head("clawgate_inflight_requests", "gauge", "Requests in flight.")
        out += "clawgate_inflight_requests \(g.inflight)\n"
        head("clawgate_rate_limited_total", "counter", "Requests refused by a token bucket.")
        out += "clawgate_rate_limited_total \(rateLimited)\n"
        head("clawgate_circuit_open", "gauge", "1 while a deployment's circuit breaker is open.")
        for (name, open) in g.circuits { out += "clawgate_circuit_open{deployment=\"\(Self.label(name))\"} \(open ? 1 : 0)\n" }
        return out
    }

    /// Label values escape backslash, quote and newline (the exposition format's rules).
    static func label(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "\\": o += "\\\\"
            case "\"": o += "\\\""
            case "\n": o += "\\n"
            default: o.append(c)
            }
        }
        return o
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
    }
}
