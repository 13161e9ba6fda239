/// A per-deployment circuit breaker, as a pure value driven by an injected clock (milliseconds,
/// monotonic).
///
/// closed → open after `failureThreshold` consecutive failures; open for `openDurationMs`, then
/// half-open: one trial request is admitted; its success closes the circuit, its failure opens it
/// again for another `openDurationMs`.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: String, Sendable, Equatable {
        case closed, open, halfOpen = "half_open"
    }

    public let failureThreshold: Int
    public let openDurationMs: Double
    /// Failures in a row since the last success.
    public private(set) var consecutiveFailures = 0
    /// When the circuit last opened; nil while closed.
    public private(set) var openedAtMs: Double?
    /// True while the half-open trial request is in flight.
    public private(set) var trialInFlight = false

    public init(failureThreshold: Int = 5, openDurationMs: Double = 30_000) {
        precondition(failureThreshold >= 1, "a breaker needs a failure threshold of at least 1")
        self.failureThreshold = failureThreshold
        self.openDurationMs = openDurationMs
    }

    public func state(at now: Double) -> State {
        guard let openedAtMs else { return .closed }
        return now - openedAtMs >= openDurationMs ? .halfOpen : .open
    }

    /// Whether a request may be sent now: always when closed, never when open, and when
    /// half-open only if the single trial is not already out.
    public func canAdmit(at now: Double) -> Bool {
        switch state(at: now) {
        case .closed: return true
        case .open: return false
        case .halfOpen: return !trialInFlight
        }
    }

    /// Milliseconds until an open circuit turns half-open (0 when it is not open).
    public func remainingOpenMs(at now: Double) -> Double {
        guard let openedAtMs, state(at: now) == .open else { return 0 }
        return openedAtMs + openDurationMs - now
    }

    /// A request was sent. In half-open it is the trial.
    public mutating func recordAdmitted(at now: Double) {
        if state(at: now) == .halfOpen { trialInFlight = true }
    }

    public mutating func recordSuccess(at now: Double) {
        switch state(at: now) {
        case .closed, .halfOpen:
            consecutiveFailures = 0
            openedAtMs = nil
            trialInFlight = false
        case .open:
            break // a request sent before the circuit opened; the open period still runs
        }
    }

    public mutating func recordFailure(at now: Double) {
        consecutiveFailures += 1
        switch state(at: now) {
        case .closed:
            if consecutiveFailures >= failureThreshold { openedAtMs = now }
        case .halfOpen:
            openedAtMs = now
            trialInFlight = false
        case .open:
            break
        }
    }

    /// A request ended without telling anything about the deployment (client cancelled): the
    /// half-open trial slot is freed, nothing else changes.
    public mutating func recordCancelled(at now: Double) {
        if state(at: now) == .halfOpen { trialInFlight = false }
    }
}
