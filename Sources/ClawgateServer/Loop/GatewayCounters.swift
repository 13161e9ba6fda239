import ClawgateCore

/// Running totals kept by the loop: gauges it needs to enforce limits and the metrics `/metrics`
/// renders. Only touched on the lws service thread.
final class GatewayCounters {
    var inflight = 0
    var wsConnections = 0
    var metrics = GatewayMetrics()
}

@available(*, unavailable) extension GatewayCounters: Sendable {}
