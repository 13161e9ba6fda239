import ClawgateCore
import ClawgateSim
@testable import ClawgateServer
import Foundation

/// A simulator and a gateway routed to it, both in this process on ephemeral ports.
final class GatewayHarness {
    let simulator: OpenAISimulator
    let gateway: Gateway
    let port: Int

    /// `models`: alias → simulator model names (directives), tried in order. `epollFrom` is 0
    /// by default, so every in-process test runs its loop on the epoll set that serves lws's
    /// poll() (LwsEpoll); the end-to-end tests run the binary's default, poll() below 16
    /// descriptors.
    init(models: [(String, [String])], fallbacks: [String: [String]] = [:], limits: Limits = Limits(),
         webRoot: String? = nil, epollFrom: Int? = 0, turnBudgetUs: UInt64 = 250) throws {
        simulator = OpenAISimulator(options: SimulatorOptions(apiKey: "sim-secret"))
        let simPort = try simulator.start()
        let provider = ProviderConfig(name: "sim", kind: .openaiCompatible, baseURL: "http://127.0.0.1:\(simPort)/v1", apiKey: "sim-secret")
        let aliases = models.map { name, upstream in
            ModelAlias(name: name, strategy: .fallback,
                       deployments: upstream.map { Deployment(provider: "sim", model: $0, inputPerMTok: 1, outputPerMTok: 2) },
                       fallbacks: fallbacks[name] ?? [])
        }
        let config = GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: 0), providers: [provider],
                                   models: aliases, limits: limits)
        gateway = Gateway(options: GatewayOptions(config: config, webRoot: webRoot, log: GatewayLog(minimum: .error),
                                                  epollFrom: epollFrom, turnBudgetUs: turnBudgetUs))
        port = try gateway.start()
    }

    func shutdown() {
        gateway.stop()
        gateway.waitUntilStopped()
        simulator.stop()
    }

    func connect() throws -> TestWebSocket {
        let ws = try TestWebSocket(port: port)
        let welcome = try ws.receiveJSON()
        guard welcome["type"] as? String == "welcome" else { throw TestWebSocket.Failure(description: "expected welcome, got \(welcome)") }
        return ws
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(2000)
        }
        return condition()
    }
}
