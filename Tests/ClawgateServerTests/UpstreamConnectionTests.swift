import ClawgateCore
@testable import ClawgateServer
import Foundation
import Testing

/// The gateway's upstream connections: kept alive between requests, and replaced when the
/// provider hangs up on one that sat idle in curl's pool.
@Suite(.serialized)
struct UpstreamConnectionTests {
    /// A gateway with one provider per upstream and a model alias of the same name for each.
    private func withGateway(_ upstreams: [(name: String, upstream: ScriptedUpstream)], _ body: (Int) throws -> Void) throws {
        let providers = upstreams.map { name, upstream in
            ProviderConfig(name: name, kind: .openaiCompatible, baseURL: "http://127.0.0.1:\(upstream.port)/v1", apiKey: "k")
        }
        let aliases = upstreams.map { name, _ in
            ModelAlias(name: name, strategy: .fallback, deployments: [Deployment(provider: name, model: "scripted")], fallbacks: [])
        }
        // A connect timeout longer than the test client's own (20 s): a socket the loop stops
        // watching shows as a failed request, not as a slow retry.
        let config = GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: 0), providers: providers, models: aliases,
                                   limits: Limits(connectTimeoutMs: 60000))
        let gateway = Gateway(options: GatewayOptions(config: config, webRoot: nil, log: GatewayLog(minimum: .error)))
        let port = try gateway.start()
        defer {
            gateway.stop()
            gateway.waitUntilStopped()
            for (_, upstream) in upstreams { upstream.stop() }
        }
        try body(port)
    }

    private func ask(_ port: Int, model: String = "m") throws -> String? {
        let r = TestHTTP.request("POST", port: port, path: "/v1/chat/completions",
                                 body: #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(r.status == 200, "\(model): \(r.text)")
        let choice = (try r.json()["choices"] as? [[String: Any]])?.first
        return (choice?["message"] as? [String: Any])?["content"] as? String
    }

    /// Kept alive, three requests in turn share one upstream connection; when the provider hangs
    /// up after each answer, each next request gets a new connection and still succeeds.
    @Test(arguments: [(hangsUp: false, connections: 1), (hangsUp: true, connections: 3)])
    func threeRequestsInTurn(provider: (hangsUp: Bool, connections: Int)) throws {
        let upstream = try ScriptedUpstream(hangUpAfterEachAnswer: provider.hangsUp)
        try withGateway([("m", upstream)]) { port in
            for _ in 0..<3 {
                let reply = try ask(port)
                #expect(reply == ScriptedUpstream.reply)
            }
            #expect(upstream.requests == 3)
            #expect(upstream.connections == provider.connections)
        }
    }

    /// A reused easy handle keeps its parsed URL while requests name the same provider (a
    /// parse saved per request); requests alternating between two providers each reach their
    /// own, although every one of them runs on the same handle.
    @Test func requestsAlternatingBetweenProvidersEachReachTheirOwn() throws {
        let first = try ScriptedUpstream(hangUpAfterEachAnswer: false)
        let second = try ScriptedUpstream(hangUpAfterEachAnswer: false)
        try withGateway([("one", first), ("two", second)]) { port in
            for model in ["one", "two", "two", "one", "two"] {
                let reply = try ask(port, model: model)
                #expect(reply == ScriptedUpstream.reply)
            }
        }
        #expect(first.requests == 2)
        #expect(second.requests == 3)
    }
}
