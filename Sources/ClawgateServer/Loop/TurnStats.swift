import Synchronization

/// How the loop divided its turns, readable from any thread (tests, and later the metrics door).
public final class TurnStats: Sendable {
    private let early = Atomic<Int>(0)

    /// Times the upstream set was collected in the middle of a turn because requests started
    /// in it had waited past the budget for their answers to be looked for
    /// (`GatewayOptions.turnBudgetUs`).
    public var earlyCollections: Int { early.load(ordering: .relaxed) }

    func collectedEarly() { early.add(1, ordering: .relaxed) }
}
