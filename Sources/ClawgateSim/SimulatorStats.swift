import Glibc

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

/// Stats plus the stop flag, shared between the service thread and callers.
/// A pthread mutex rather than `Synchronization.Mutex`: TSan reports false races through the
/// futex-based one (see notes/lws-curl-swift.md §4).
final class SimulatorSharedState: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var stats = SimulatorStats()
    private var stopRequested = false

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    var snapshot: SimulatorStats { withLock { stats } }

    func update(_ change: (inout SimulatorStats) -> Void) { withLock { change(&stats) } }

    /// Counters go back to zero; `active` describes live connections, so it stays.
    func reset() { withLock { stats = SimulatorStats(active: stats.active) } }

    var isStopRequested: Bool { withLock { stopRequested } }
    func requestStop() { withLock { stopRequested = true } }
}
