import ClawgateCore
@testable import ClawgateServer
import Foundation
import Testing

/// `POST /v1/chat/completions` and the small REST doors, in process.
@Suite(.serialized)
struct OpenAIRestDoorTests {
    private func withHarness(limits: Limits = Limits(), _ body: (GatewayHarness) throws -> Void) throws {
        let h = try GatewayHarness(models: [("fast", ["sim-t5"]), ("long", ["sim-t100000-d5"]), ("limited", ["sim-e429"])],
                                   limits: limits)
        defer { h.shutdown() }
        try body(h)
    }

    private let chatBody = #"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#

    @Test func nonStreamedCompletionHasOpenAIsShape() throws {
        try withHarness { h in
            let r = TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: chatBody)
            #expect(r.status == 200)
            #expect(r.headers["x-request-id"]?.isEmpty == false)
            #expect(r.headers["x-clawgate-overhead-ms"].flatMap(Double.init) != nil)
            #expect(r.headers["content-length"] == String(r.body.count))
            // API answers carry nosniff, not the web page's browser policy headers.
            #expect(r.headers["x-content-type-options"] == "nosniff")
            #expect(r.headers["content-security-policy"] == nil)
            let j = try r.json()
            #expect(j["object"] as? String == "chat.completion")
            #expect(j["model"] as? String == "fast")
            let choice = try #require((j["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "w0 w1 w2 w3 w4")
            #expect(choice["finish_reason"] as? String == "stop")
            #expect((j["usage"] as? [String: Any])?["completion_tokens"] as? Int == 5)
        }
    }

    @Test func streamedCompletionIsChunkedSSEEndingInDone() throws {
        try withHarness { h in
            let body = #"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
            let r = TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: body)
            #expect(r.status == 200)
            #expect(r.headers["transfer-encoding"] == "chunked")
            #expect(r.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            #expect(r.headers["x-content-type-options"] == "nosniff")
            let events = r.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.last == "data: [DONE]")
            let chunks = try events.dropLast().map { e -> [String: Any] in
                #expect(e.hasPrefix("data: "))
                return try JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any] ?? [:]
            }
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
            #expect(deltas.first?["role"] as? String == "assistant")
            #expect(deltas.compactMap { $0["content"] as? String }.joined() == "w0 w1 w2 w3 w4")
            let usage = try #require(chunks.last?["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 5)
            #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func errorsUseOpenAIsShapeAndTheSectionSixStatus() throws {
        var limits = Limits()
        limits.maxBodyBytes = 1024
        try withHarness(limits: limits) { h in
            let cases: [(String, String, String?, Int, String)] = [
                ("POST", "/v1/chat/completions", "{not json", 400, "bad_request"),
                ("POST", "/v1/chat/completions", #"{"model":"fast"}"#, 400, "bad_request"),
                ("POST", "/v1/chat/completions", #"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#, 404, "not_found"),
                ("POST", "/v1/chat/completions", #"{"model":"limited","messages":[{"role":"user","content":"x"}]}"#, 502, "upstream_error"),
                ("POST", "/v1/chat/completions", "{\"pad\":\"" + String(repeating: "x", count: 2000) + "\"}", 413, "too_large"),
                ("GET", "/v1/nowhere", nil, 404, "not_found"),
                ("PUT", "/v1/models", nil, 404, "not_found"),
            ]
            for (method, path, body, status, code) in cases {
                let r = TestHTTP.request(method, port: h.port, path: path, body: body)
                #expect(r.status == status, "\(method) \(path)")
                #expect(r.headers["x-request-id"]?.isEmpty == false)
                let err = try #require(try r.json()["error"] as? [String: Any], "\(r.text)")
                #expect(err["code"] as? String == code, "\(method) \(path)")
                #expect(!(err["message"] as? String ?? "").isEmpty)
                #expect(err["type"] is String)
            }
        }
    }

    @Test func aClientThatLeavesMidStreamAbortsTheUpstream() throws {
        try withHarness { h in
            let body = #"{"model":"long","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let r = TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: body, abortAfterBytes: 400)
            #expect(r.status == 200)
            #expect(h.eventually { h.simulator.stats.aborted == 1 })
        }
    }

    @Test func upstreamConnectionsAreReused() throws {
        try withHarness { h in
            for _ in 0..<10 {
                #expect(TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: chatBody).status == 200)
            }
            #expect(h.simulator.stats.started == 10)
            #expect(h.simulator.stats.connections == 1)
        }
    }

    @Test func metricsCountRequestsTokensAndOverhead() throws {
        try withHarness { h in
            #expect(TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: chatBody).status == 200)
            #expect(TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions",
                                     body: #"{"model":"limited","messages":[{"role":"user","content":"x"}]}"#).status == 502)
            #expect(TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions",
                                     body: #"{"model":"random-\#(UUID())","messages":[{"role":"user","content":"x"}]}"#).status == 404)
            let r = TestHTTP.request(port: h.port, path: "/metrics")
            #expect(r.status == 200)
            #expect(r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let t = r.text
            #expect(t.contains("clawgate_requests_total{model=\"fast\",provider=\"sim\",code=\"ok\"} 1\n"))
            #expect(t.contains("clawgate_requests_total{model=\"limited\",provider=\"sim\",code=\"upstream_error\"} 1\n"))
            #expect(t.contains("clawgate_requests_total{model=\"(unknown)\",provider=\"\",code=\"not_found\"} 1\n"))
            #expect(t.contains("clawgate_tokens_total{model=\"fast\",direction=\"out\"} 5\n"))
            #expect(t.contains("clawgate_overhead_seconds_count 1\n"))
            #expect(t.contains("clawgate_circuit_open{deployment=\"sim/sim-t5\"} 0\n"))
            #expect(!t.contains("random-"))
        }
    }

    @Test func healthReadinessAndModels() throws {
        try withHarness { h in
            let health = TestHTTP.request(port: h.port, path: "/healthz")
            #expect(health.status == 200)
            #expect(try health.json()["status"] as? String == "ok")
            #expect(TestHTTP.request(port: h.port, path: "/readyz").status == 200)
            let models = try TestHTTP.request(port: h.port, path: "/v1/models").json()
            #expect(models["object"] as? String == "list")
            #expect(Set((models["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == ["fast", "long", "limited"])
        }
    }
}

@Suite(.serialized)
struct ReadinessTests {
    @Test func withNoProviderReadyzSays503AndWhy() throws {
        let config = GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: 0))
        let gateway = Gateway(options: GatewayOptions(config: config, notes: ["no provider found in the environment"],
                                                      log: GatewayLog(minimum: .error)))
        let port = try gateway.start()
        defer {
            gateway.stop()
            gateway.waitUntilStopped()
        }
        #expect(!gateway.isReady)
        let r = TestHTTP.request(port: port, path: "/readyz")
        #expect(r.status == 503)
        let j = try r.json()
        #expect(j["status"] as? String == "no_providers")
        #expect((j["message"] as? String ?? "").contains("no provider found"))
        #expect(TestHTTP.request(port: port, path: "/healthz").status == 200)
    }

    @Test func aPortInUseIsAClearStartError() throws {
        let first = Gateway(options: GatewayOptions(config: GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: 0)),
                                                    log: GatewayLog(minimum: .error)))
        let port = try first.start()
        defer {
            first.stop()
            first.waitUntilStopped()
        }
        let second = Gateway(options: GatewayOptions(config: GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: port)),
                                                     log: GatewayLog(minimum: .error)))
        #expect(throws: GatewayStartError.self) { try second.start() }
    }
}
