import ClawgateCore
import Testing

struct GatewayMetricsTests {
    @Test func histogramsAreCumulativeWithSumAndCount() {
        var h = Histogram()
        h.observe(seconds: 0.0002)
        h.observe(seconds: 0.003)
        h.observe(seconds: 500)
        #expect(h.count == 3)
        #expect(abs(h.sum - 500.0032) < 1e-9)
        var m = GatewayMetrics()
        m.recordRequest(model: "fast", provider: "sim", code: "ok", durationMs: 3, ttftMs: 0.2, overheadMs: 0.2)
        m.recordRequest(model: "fast", provider: "sim", code: "ok", durationMs: 500_000, ttftMs: nil, overheadMs: nil)
        let text = m.render(.init(connections: 0, sessions: 0, inflight: 0, circuits: []))
        #expect(text.contains("clawgate_request_duration_seconds_bucket{model=\"fast\",le=\"0.0025\"} 0\n"))
        #expect(text.contains("clawgate_request_duration_seconds_bucket{model=\"fast\",le=\"0.005\"} 1\n"))
        #expect(text.contains("clawgate_request_duration_seconds_bucket{model=\"fast\",le=\"+Inf\"} 2\n"))
        #expect(text.contains("clawgate_request_duration_seconds_count{model=\"fast\"} 2\n"))
        #expect(text.contains("clawgate_overhead_seconds_bucket{le=\"0.00025\"} 1\n"))
    }

    @Test func everyContractNameIsExposedWithHelpAndType() {
        var m = GatewayMetrics()
        m.recordRequest(model: "fast", provider: "openai", code: "upstream_error", durationMs: 10, ttftMs: nil, overheadMs: nil)
        m.recordUsage(model: "fast", usage: Usage(promptTokens: 3, completionTokens: 5, estimated: true), costUsd: 0.25)
        let text = m.render(.init(connections: 4, sessions: 2, inflight: 1, circuits: [("openai/gpt-x", true), ("local/m", false)]))
        for name in ["clawgate_requests_total", "clawgate_request_duration_seconds", "clawgate_time_to_first_token_seconds",
                     "clawgate_overhead_seconds", "clawgate_tokens_total", "clawgate_cost_usd_total", "clawgate_connections",
                     "clawgate_sessions", "clawgate_inflight_requests", "clawgate_rate_limited_total", "clawgate_circuit_open"] {
            #expect(text.contains("# TYPE \(name) "), "\(name)")
            #expect(text.contains("# HELP \(name) "), "\(name)")
        }
        #expect(text.contains("clawgate_requests_total{model=\"fast\",provider=\"openai\",code=\"upstream_error\"} 1\n"))
        #expect(text.contains("clawgate_tokens_total{model=\"fast\",direction=\"in\"} 3\n"))
        #expect(text.contains("clawgate_tokens_total{model=\"fast\",direction=\"out\"} 5\n"))
        #expect(text.contains("clawgate_estimated_tokens_total 8\n"))
        #expect(text.contains("clawgate_cost_usd_total{model=\"fast\"} 0.25\n"))
        #expect(text.contains("clawgate_connections 4\n"))
        #expect(text.contains("clawgate_circuit_open{deployment=\"openai/gpt-x\"} 1\n"))
        #expect(text.contains("clawgate_circuit_open{deployment=\"local/m\"} 0\n"))
    }

    @Test func labelValuesAreEscaped() {
        var m = GatewayMetrics()
        m.recordRequest(model: "a\"b\\c\nd", provider: "p", code: "ok", durationMs: nil, ttftMs: nil, overheadMs: nil)
        let text = m.render(.init(connections: 0, sessions: 0, inflight: 0, circuits: []))
        #expect(text.contains(#"model="a\"b\\c\nd""#))
    }
}
