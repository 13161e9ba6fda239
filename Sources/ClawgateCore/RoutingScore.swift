/// Orders candidate deployments for one strategy. Pure: takes the live figures as input.
///
/// `weighted` normalises each dimension across the candidates to 0...1 (min-max), so no single
/// dimension swamps the others whatever its unit:
///
///     score = w_lat·(1 − latNorm) + w_acc·accNorm + w_cost·(1 − costNorm)
///             − W·errorRate − W/4·loadNorm          (W = w_lat + w_acc + w_cost)
///
/// latency is the live EWMA of time to first token (neutral 0.5 while unknown), accuracy is
/// configured, cost is input + output price per Mtok, errorRate is the EWMA of failures and
/// loadNorm is in-flight requests relative to the busiest candidate. Ties keep configured order.
public enum RoutingScore {
    public struct Candidate: Sendable, Equatable {
        public var deployment: Deployment
        public var stats: DeploymentStats

        public init(deployment: Deployment, stats: DeploymentStats) {
            self.deployment = deployment
            self.stats = stats
        }

        var price: Double { deployment.inputPerMTok + deployment.outputPerMTok }
    }

    /// Weighted scores, one per candidate, in the candidates' order.
    public static func weightedScores(_ candidates: [Candidate], weights: RoutingWeights) -> [Double] {
        let latency = normalise(candidates.map(\.stats.ewmaTTFTMs))
        let accuracy = normalise(candidates.map { Optional($0.deployment.accuracy) })
        let cost = normalise(candidates.map { Optional($0.price) })
        let busiest = candidates.map(\.stats.inflight).max() ?? 0
        let total = weights.latency + weights.accuracy + weights.cost
        return candidates.indices.map { i in
            let load = busiest > 0 ? Double(candidates[i].stats.inflight) / Double(busiest) : 0
            return weights.latency * (1 - latency[i]) + weights.accuracy * accuracy[i] + weights.cost * (1 - cost[i])
                - total * candidates[i].stats.errorRate - total / 4 * load
        }
    }

    /// Min-max normalisation to 0...1; unknown values are neutral (0.5), and so is every value
    /// when all known ones are equal.
    static func normalise(_ values: [Double?]) -> [Double] {
        let known = values.compactMap { $0 }
        guard let low = known.min(), let high = known.max(), high > low else { return values.map { _ in 0.5 } }
        return values.map { $0.map { ($0 - low) / (high - low) } ?? 0.5 }
    }

    /// The candidates in the order `strategy` would try them. `rotation` is the round-robin
    /// counter of the alias.
    public static func order(_ candidates: [Candidate], strategy: RoutingStrategy, weights: RoutingWeights,
                             rotation: Int = 0) -> [Deployment] {
        /// Ascending by `key` of each candidate's index; ties keep configured order.
        func sorted(by key: (Int) -> Double) -> [Deployment] {
            candidates.indices.sorted { a, b in
                let ka = key(a), kb = key(b)
                return ka != kb ? ka < kb : a < b
            }.map { candidates[$0].deployment }
        }
        switch strategy {
        case .weighted:
            let scores = weightedScores(candidates, weights: weights)
            return sorted { -scores[$0] }
        case .latency:
            return sorted { candidates[$0].stats.ewmaTTFTMs ?? -1 }
        case .roundRobin:
            guard !candidates.isEmpty else { return [] }
            let start = rotation % candidates.count
            return (candidates[start...] + candidates[..<start]).map(\.deployment)
        case .leastBusy:
            return sorted { Double(candidates[$0].stats.inflight) }
        case .cost:
            return sorted { candidates[$0].price }
        case .fallback:
            return candidates.map(\.deployment)
        }
    }
}
