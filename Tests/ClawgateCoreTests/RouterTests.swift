import Testing
@testable import ClawgateCore

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    var ms: Double = 1_000
    func advance(_ delta: Double) { ms += delta }
}

@Suite struct RouterTests {
    static let a = Deployment(provider: "p1", model: "a", accuracy: 0.9, inputPerMTok: 5, outputPerMTok: 15)
    static let b = Deployment(provider: "p2", model: "b", accuracy: 0.5, inputPerMTok: 0.1, outputPerMTok: 0.4)
    static let c = Deployment(provider: "p1", model: "c", accuracy: 0.7, inputPerMTok: 1, outputPerMTok: 2)
    static let s = Deployment(provider: "p2", model: "smart")

    let clock = ManualClock()

    func router(strategy: RoutingStrategy = .fallback, weights: RoutingWeights = RoutingWeights(),
                deployments: [Deployment] = [a, b, c], fallbacks: [String] = [],
                breaker: CircuitBreaker = CircuitBreaker()) -> Router {
        let config = GatewayConfig(
            providers: [ProviderConfig(name: "p1", kind: .openai, baseURL: "http://p1"),
                        ProviderConfig(name: "p2", kind: .openaiCompatible, baseURL: "http://p2")],
            models: [ModelAlias(name: "fast", strategy: strategy, weights: weights, deployments: deployments,
                                fallbacks: fallbacks),
                     ModelAlias(name: "smart", strategy: .fallback, deployments: [Self.s, Self.a])])
        let clock = self.clock
        return Router(config: config, now: { clock.ms }, breaker: breaker)
    }

    func attempts(_ router: Router, _ model: String = "fast", route: RouteOverride? = nil) throws -> [String] {
        try router.plan(model: model, route: route).attempts.map(\.model)
    }

    /// Gives `d` a measured TTFT.
    func succeed(_ router: Router, _ d: Deployment, ttft: Double) {
        router.recordStart(d)
        router.recordSuccess(d, ttftMs: ttft, outputTokens: 10, durationMs: ttft + 100)
    }

    @Test func fallbackKeepsConfiguredOrder() throws {
        #expect(try attempts(router()) == ["a", "b", "c"])
    }

    @Test func costIsCheapestFirst() throws {
        #expect(try attempts(router(strategy: .cost)) == ["b", "c", "a"])
    }

    @Test func latencyIsFastestFirstWithUnknownTriedFirst() throws {
        let r = router(strategy: .latency)
        succeed(r, Self.a, ttft: 300)
        succeed(r, Self.b, ttft: 100)
        #expect(try attempts(r) == ["c", "b", "a"])
        succeed(r, Self.c, ttft: 200)
        #expect(try attempts(r) == ["b", "c", "a"])
    }

    @Test func leastBusyIsFewestInFlightFirst() throws {
        let r = router(strategy: .leastBusy)
        r.recordStart(Self.a); r.recordStart(Self.a); r.recordStart(Self.c)
        #expect(try attempts(r) == ["b", "c", "a"])
        r.recordCancelled(Self.a); r.recordCancelled(Self.a)
        #expect(r.stats(for: Self.a).inflight == 0)
        #expect(try attempts(r) == ["a", "b", "c"])
    }

    @Test func roundRobinRotatesTheStart() throws {
        let r = router(strategy: .roundRobin)
        #expect(try attempts(r) == ["a", "b", "c"])
        #expect(try attempts(r) == ["b", "c", "a"])
        #expect(try attempts(r) == ["c", "a", "b"])
        #expect(try attempts(r) == ["a", "b", "c"])
    }

    @Test func weightedFollowsTheWeights() throws {
        let accuracyOnly = router(strategy: .weighted, weights: RoutingWeights(latency: 0, accuracy: 1, cost: 0))
        #expect(try attempts(accuracyOnly) == ["a", "c", "b"])
        let costOnly = router(strategy: .weighted, weights: RoutingWeights(latency: 0, accuracy: 0, cost: 1))
        #expect(try attempts(costOnly) == ["b", "c", "a"])
        let latencyOnly = router(strategy: .weighted, weights: RoutingWeights(latency: 1, accuracy: 0, cost: 0))
        succeed(latencyOnly, Self.a, ttft: 50)
        succeed(latencyOnly, Self.b, ttft: 500)
        // c is unknown: neutral, between the fastest and the slowest.
        #expect(try attempts(latencyOnly) == ["a", "c", "b"])
    }

    @Test func weightedScoresAreNormalised() {
        let candidates = [RouterTests.a, RouterTests.b].map {
            RoutingScore.Candidate(deployment: $0, stats: DeploymentStats())
        }
        let scores = RoutingScore.weightedScores(candidates, weights: RoutingWeights(latency: 0.4, accuracy: 0.4, cost: 0.2))
        // a: best accuracy (1), worst cost (1), latency unknown (0.5) → 0.2 + 0.4 + 0
        #expect(abs(scores[0] - 0.6) < 1e-9)
        // b: worst accuracy (0), best cost (0) → 0.2 + 0 + 0.2
        #expect(abs(scores[1] - 0.4) < 1e-9)
    }

    @Test func weightedPenalisesErrorsAndLoad() throws {
        let r = router(strategy: .weighted, weights: RoutingWeights(latency: 0, accuracy: 1, cost: 0))
        r.recordStart(Self.a)
        r.recordFailure(Self.a)
        // One failure: error rate 0.2, a's accuracy lead (1 vs c's 0.5) still wins.
        #expect(try attempts(r) == ["a", "c", "b"])
        for _ in 0..<3 { r.recordStart(Self.a); r.recordFailure(Self.a) }
        // Four in a row: error rate 1 - 0.8^4 ≈ 0.59, so a falls behind c but stays ahead of b.
        #expect(abs(r.stats(for: Self.a).errorRate - 0.5904) < 1e-9)
        #expect(try attempts(r) == ["c", "a", "b"])
        let busy = router(strategy: .weighted, weights: RoutingWeights(latency: 0, accuracy: 1, cost: 0),
                          deployments: [Self.c, Self.a])
        busy.recordStart(Self.a)
        // a's accuracy edge (1 vs 0) outweighs a load penalty of 1/4.
        #expect(try attempts(busy) == ["a", "c"])
    }

    @Test func routeOverridesStrategyAndWeights() throws {
        let r = router(strategy: .fallback)
        #expect(try attempts(r, route: RouteOverride(strategy: .cost)) == ["b", "c", "a"])
        #expect(try attempts(r, route: RouteOverride(strategy: .weighted,
                                                     weights: RoutingWeights(latency: 0, accuracy: 1, cost: 0)))
                == ["a", "c", "b"])
    }

    @Test func fallbacksFollowAndAreDeduplicated() throws {
        let r = router(deployments: [Self.b], fallbacks: ["smart"])
        #expect(try attempts(r) == ["b", "smart", "a"])
        let overridden = router(deployments: [Self.b, Self.a], fallbacks: [])
        #expect(try attempts(overridden, route: RouteOverride(fallbacks: ["smart"])) == ["b", "a", "smart"])
        #expect(try attempts(r, route: RouteOverride(fallbacks: [])) == ["b"])
        #expect(throws: GatewayError.self) { try attempts(r, route: RouteOverride(fallbacks: ["nope"])) }
    }

    @Test func openCircuitIsSkippedAndComesBackHalfOpen() throws {
        let r = router(breaker: CircuitBreaker(failureThreshold: 2, openDurationMs: 30_000))
        for _ in 0..<2 { r.recordStart(Self.a); r.recordFailure(Self.a) }
        #expect(r.stats(for: Self.a).circuit == .open)
        #expect(r.circuitOpenDeployments == ["p1/a"])
        #expect(try attempts(r) == ["b", "c"])
        clock.advance(30_000)
        #expect(r.stats(for: Self.a).circuit == .halfOpen)
        #expect(try attempts(r) == ["a", "b", "c"])
        r.recordStart(Self.a) // the trial
        #expect(try attempts(r) == ["b", "c"])
        r.recordSuccess(Self.a, ttftMs: 10, outputTokens: 1, durationMs: 20)
        #expect(r.stats(for: Self.a).circuit == .closed)
        #expect(r.circuitOpenDeployments.isEmpty)
    }

    @Test func everyCircuitOpenIsOverloaded() throws {
        let r = router(deployments: [Self.a, Self.b], breaker: CircuitBreaker(failureThreshold: 1, openDurationMs: 5000))
        r.recordStart(Self.a); r.recordFailure(Self.a)
        clock.advance(1000)
        r.recordStart(Self.b); r.recordFailure(Self.b)
        let error = #expect(throws: GatewayError.self) { try attempts(r) }
        #expect(error?.code == .overloaded)
        #expect(error?.message == "every deployment of 'fast' is unavailable: circuit open for p1/a; circuit open for p2/b")
        #expect(error?.retryAfterMs == 4000)
    }

    @Test func maxConcurrencyIsRespected() throws {
        let capped = Deployment(provider: "p1", model: "capped", maxConcurrency: 1)
        let r = router(deployments: [capped, Self.b])
        r.recordStart(capped)
        #expect(try attempts(r) == ["b"])
        #expect(!r.isAvailable(capped))
        r.recordSuccess(capped, ttftMs: 1, outputTokens: 1, durationMs: 2)
        #expect(try attempts(r) == ["capped", "b"])
    }

    @Test func emptyModelIsTheFirstAlias() throws {
        #expect(try router().plan(model: "", route: nil).alias == "fast")
        let none = Router(config: GatewayConfig(), now: { 0 })
        #expect(throws: GatewayError.self) { try none.plan(model: "", route: nil) }
    }

    @Test func providerSlashModelIsAdHoc() throws {
        let plan = try router().plan(model: "p2/llama3.2:8b", route: nil)
        #expect(plan == RoutePlan(alias: "p2/llama3.2:8b", attempts: [Deployment(provider: "p2", model: "llama3.2:8b")]))
    }

    @Test func unknownModelIsNotFound() throws {
        let error = #expect(throws: GatewayError.self) { try router().plan(model: "fsat", route: nil) }
        #expect(error?.code == .notFound)
        #expect(error?.message.hasPrefix("unknown model 'fsat' (available: fast, smart) (did you mean 'fast'?)") == true)
        let slash = #expect(throws: GatewayError.self) { try router().plan(model: "nope/x", route: nil) }
        #expect(slash?.code == .notFound)
    }

    @Test func statsFollowFeedback() {
        let r = router()
        r.recordStart(Self.a)
        #expect(r.stats(for: Self.a).inflight == 1)
        r.recordSuccess(Self.a, ttftMs: 100, outputTokens: 50, durationMs: 1100)
        var stats = r.stats(for: Self.a)
        #expect(stats == DeploymentStats(inflight: 0, ewmaTTFTMs: 100, ewmaTokensPerSecond: 50, errorRate: 0))
        r.recordStart(Self.a)
        r.recordSuccess(Self.a, ttftMs: 200, outputTokens: 0, durationMs: 300)
        stats = r.stats(for: Self.a)
        #expect(stats.ewmaTTFTMs == 120)
        #expect(stats.ewmaTokensPerSecond == 50)
        r.recordStart(Self.a)
        r.recordFailure(Self.a)
        #expect(abs(r.stats(for: Self.a).errorRate - 0.2) < 1e-12)
        r.recordStart(Self.a)
        r.recordCancelled(Self.a)
        #expect(abs(r.stats(for: Self.a).errorRate - 0.2) < 1e-12)
        #expect(r.stats(for: Self.a).inflight == 0)
    }
}
