/// Chooses deployments for each request (PROTOCOL.md section 5, DESIGN.md "Routing") and keeps
/// the live figures that drive that choice: in-flight counts, EWMA time to first token and
/// tokens/s, error rate and a circuit breaker per deployment.
///
/// Owned by the event-loop thread: only touched on the lws service thread, so it takes no locks.
/// Time comes from the injected `now` (milliseconds, monotonic), so tests drive it.
public final class Router {
    public let config: GatewayConfig
    private let now: () -> Double
    private let breakerTemplate: CircuitBreaker
    /// Per deployment, keyed by `Deployment.name` ("provider/model"): an upstream model shared by
    /// several aliases shares its figures.
    private var states: [String: DeploymentState] = [:]
    /// Round-robin counter per alias.
    private var rotations: [String: Int] = [:]

    public init(config: GatewayConfig, now: @escaping () -> Double, breaker: CircuitBreaker = CircuitBreaker()) {
        self.config = config
        self.now = now
        self.breakerTemplate = breaker
    }

    // MARK: - Planning

    /// The deployments to try for `model`, in order: the alias's own (ordered by the strategy),
    /// then each fallback alias's, without repeats. Deployments whose circuit is open or which
    /// are at their `max_concurrency` are left out.
    public func plan(model: String, route: RouteOverride?) throws(GatewayError) -> RoutePlan {
        let alias: ModelAlias
        if model.isEmpty {
            guard let first = config.models.first else {
                throw GatewayError(.notFound, "no model aliases are configured; ask for a model as 'provider/model'",
                                   param: "model")
            }
            alias = first
        } else if let found = config.model(named: model) {
            alias = found
        } else if let adHoc = adHocDeployment(model) {
            return try available(alias: model, ordered: [adHoc])
        } else {
            throw unknownModel(model)
        }

        // The common case — one deployment, no fallbacks, no override — needs no ordering.
        if route == nil, alias.fallbacks.isEmpty, alias.deployments.count == 1 {
            return try available(alias: alias.name, ordered: alias.deployments)
        }
        let strategyOverride = route?.strategy
        let weightsOverride = route?.weights
        var ordered = order(alias, strategy: strategyOverride, weights: weightsOverride)
        for name in route?.fallbacks ?? alias.fallbacks where name != alias.name {
            guard let fallback = config.model(named: name) else {
                throw GatewayError(.badRequest, "route.fallbacks names unknown model '\(name)' (available: \(aliasList))",
                                   param: "route.fallbacks")
            }
            ordered += order(fallback, strategy: strategyOverride, weights: weightsOverride)
        }
        return try available(alias: alias.name, ordered: ordered)
    }

    /// Whether `d` can take a request now (circuit admits, under its concurrency cap). The
    /// executor checks it again before each later attempt of a plan.
    public func isAvailable(_ d: Deployment) -> Bool { unavailableReason(d) == nil }

    private func unavailableReason(_ d: Deployment) -> String? {
        let state = self.state(d)
        let t = now()
        if !state.breaker.canAdmit(at: t) {
            return state.breaker.state(at: t) == .open ? "circuit open" : "circuit half-open with its trial in flight"
        }
        if let cap = d.maxConcurrency, state.inflight >= cap { return "at max_concurrency (\(cap))" }
        return nil
    }

    private func available(alias: String, ordered: [Deployment]) throws(GatewayError) -> RoutePlan {
        if ordered.count == 1, unavailableReason(ordered[0]) == nil {
            return RoutePlan(alias: alias, attempts: ordered)
        }
        var seen = Set<String>()
        var attempts: [Deployment] = []
        var reasons: [String] = []
        for d in ordered where seen.insert(d.name).inserted {
            if let reason = unavailableReason(d) {
                reasons.append("\(reason) for \(d.name)")
            } else {
                attempts.append(d)
            }
        }
        guard !attempts.isEmpty else {
            let t = now()
            let waits = ordered.map { state($0).breaker.remainingOpenMs(at: t) }.filter { $0 > 0 }
            throw GatewayError(.overloaded, "every deployment of '\(alias)' is unavailable: " + reasons.joined(separator: "; "),
                               retryAfterMs: waits.min().map { Int($0.rounded(.up)) })
        }
        return RoutePlan(alias: alias, attempts: attempts)
    }

    /// One alias's deployments in strategy order (before availability filtering, so normalisation
    /// and round-robin see the whole pool).
    private func order(_ alias: ModelAlias, strategy: RoutingStrategy?, weights: RoutingWeights?) -> [Deployment] {
        let candidates = alias.deployments.filter { isAvailable($0) }
            .map { RoutingScore.Candidate(deployment: $0, stats: stats(for: $0)) }
        let strategy = strategy ?? alias.strategy
        var rotation = 0
        if strategy == .roundRobin {
            rotation = rotations[alias.name, default: 0]
            rotations[alias.name] = rotation &+ 1
        }
        let ordered = RoutingScore.order(candidates, strategy: strategy, weights: weights ?? alias.weights,
                                         rotation: rotation)
        // Unavailable ones go last so `available` can name them in its message.
        return ordered + alias.deployments.filter { !isAvailable($0) }
    }

    /// "provider/model" with a configured provider: a deployment no alias declares.
    private func adHocDeployment(_ model: String) -> Deployment? {
        guard let slash = model.firstIndex(of: "/") else { return nil }
        let provider = String(model[..<slash])
        let upstream = String(model[model.index(after: slash)...])
        guard !upstream.isEmpty, config.provider(named: provider) != nil else { return nil }
        return Deployment(provider: provider, model: upstream)
    }

    private var aliasList: String {
        config.models.isEmpty ? "none configured" : config.models.map(\.name).joined(separator: ", ")
    }

    private func unknownModel(_ model: String) -> GatewayError {
        var hint = Suggestion.didYouMean(model, among: config.models.map(\.name))
        if !config.providers.isEmpty {
            hint += "; or ask for 'provider/model' with a provider of: "
                + config.providers.map(\.name).joined(separator: ", ")
        }
        return GatewayError(.notFound, "unknown model '\(model)' (available: \(aliasList))\(hint)", param: "model")
    }

    // MARK: - Live feedback

    private func state(_ d: Deployment) -> DeploymentState {
        states[d.name] ?? DeploymentState(breaker: breakerTemplate)
    }

    /// In place: one lookup, where reading the state and storing it back hashed the name twice.
    private func update(_ d: Deployment, _ body: (inout DeploymentState) -> Void) {
        body(&states[d.name, default: DeploymentState(breaker: breakerTemplate)])
    }

    /// A request was sent to `d`.
    public func recordStart(_ d: Deployment) {
        let t = now()
        update(d) { $0.inflight += 1; $0.breaker.recordAdmitted(at: t) }
    }

    public func recordSuccess(_ d: Deployment, ttftMs: Double, outputTokens: Int, durationMs: Double) {
        let t = now()
        update(d) {
            $0.succeeded(ttftMs: ttftMs, outputTokens: outputTokens, durationMs: durationMs)
            $0.breaker.recordSuccess(at: t)
        }
    }

    public func recordFailure(_ d: Deployment) {
        let t = now()
        update(d) { $0.failed(); $0.breaker.recordFailure(at: t) }
    }

    /// The client cancelled: in flight −1, no change to the error rate or the breaker (other than
    /// freeing a half-open trial slot).
    public func recordCancelled(_ d: Deployment) {
        let t = now()
        update(d) { $0.ended(); $0.breaker.recordCancelled(at: t) }
    }

    public func stats(for d: Deployment) -> DeploymentStats { state(d).stats(at: now()) }

    /// Names ("provider/model") of deployments whose circuit is open now, sorted.
    public var circuitOpenDeployments: [String] {
        let t = now()
        return states.filter { $0.value.breaker.state(at: t) == .open }.keys.sorted()
    }
}

@available(*, unavailable)
extension Router: Sendable {}

/// The deployments to try for one request, in order.
public struct RoutePlan: Sendable, Equatable {
    /// The alias that was resolved (the first alias for an empty model, or "provider/model").
    public var alias: String
    public var attempts: [Deployment]

    public init(alias: String, attempts: [Deployment]) {
        self.alias = alias
        self.attempts = attempts
    }
}
