/// What the simulator has served since start or the last reset. Tests read it to prove
/// what an upstream saw, e.g. that the gateway dropped a stream (`aborted`).
public struct SimulatorStats: Sendable, Equatable {
    /// Chat requests accepted (valid body, model understood or answered with a simulated error).
    public var started: Int
    /// Replies whose last byte was written (a `cut{K}` reply counts here: the simulator chose to cut).
    public var completed: Int
    /// Replies still in progress when the client went away.
    public var aborted: Int
    /// Replies in progress right now.
    public var active: Int
    /// TCP connections accepted (a client that keeps connections alive opens few).
    public var connections: Int = 0
    /// The last chat request body exactly as received.
    public var lastRequestBody: String?
    /// The last chat request's `Authorization` header, if any.
    public var lastAuthorization: String?

    public init(started: Int = 0, completed: Int = 0, aborted: Int = 0, active: Int = 0,
                lastRequestBody: String? = nil, lastAuthorization: String? = nil) {
        self.started = started
        self.completed = completed
        self.aborted = aborted
        self.active = active
        self.lastRequestBody = lastRequestBody
        self.lastAuthorization = lastAuthorization
    }
}

/// Stats plus the stop flag: the only state the service thread shares with other threads.
final class SimulatorSharedState: @unchecked Sendable {
    private let lock = PthreadMutex()
    private var stats = SimulatorStats()
    private var stopRequested = false

    private func withLock<T>(_ body: () -> T) -> T { lock.withLock(body) }

    var snapshot: SimulatorStats { withLock { stats } }

    func update(_ change: (inout SimulatorStats) -> Void) { withLock { change(&stats) } }

    /// Counters go back to zero; `active` describes live connections, so it stays.
    func reset() { withLock { stats = SimulatorStats(active: stats.active) } }

    var isStopRequested: Bool { withLock { stopRequested } }
    func requestStop() { withLock { stopRequested = true } }
}
