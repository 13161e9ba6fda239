import CEpoll
import CLws
import ClawgateCore

/// A one-shot timer on the simulator's loop that runs `action` when it fires. Only touched on
/// the lws service thread; cancelling or re-arming drops a pending firing. Its owner cancels
/// it when it goes away: the queue holds it until then.
final class SimulatorTimer: HeapTimer {
    var heapIndex = -1
    private let action: () -> Void
    private weak var queue: SimulatorTimers?

    init(action: @escaping () -> Void) {
        self.action = action
    }

    var isArmed: Bool { heapIndex >= 0 }

    func arm(context: OpaquePointer, ms: Int) {
        guard let owner = lws_context_user(context) else { return }
        let timers = Unmanaged<SimulatorServer>.fromOpaque(owner).takeUnretainedValue().timers!
        queue = timers
        timers.schedule(self, afterMs: ms)
    }

    func cancel() {
        queue?.cancel(self)
    }

    fileprivate func fire() {
        action()
    }
}

/// Every timer of one simulator, due times in a heap (`TimerHeap`, shared with the gateway)
/// and the earliest on a timerfd that lws watches as a raw file. lws's own timers wait in
/// whole milliseconds and spin through the last one: with 500 streams a token is due every
/// 40 µs, so on lws timers the loop never slept (11 service turns per token, most of a core).
final class SimulatorTimers {
    static let protocolName = "http"
    private let fd: Int32
    private var pending = TimerHeap<SimulatorTimer>()
    private var armedNs: UInt64 = .max

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// lws owns the descriptor once adopted and closes it with the context.
    init(vhost: OpaquePointer) throws {
        fd = cepoll_timerfd_create()
        guard fd >= 0 else { throw Failure(description: "timerfd_create failed") }
        guard clws_adopt_raw_file(vhost, fd, SimulatorTimers.protocolName, nil) != nil else {
            close(fd)
            throw Failure(description: "could not watch the simulator's timerfd")
        }
    }

    func schedule(_ timer: SimulatorTimer, afterMs ms: Int) {
        let due = cepoll_now_ns() + UInt64(max(ms, 0)) * 1_000_000
        pending.schedule(timer, due: due)
        if due < armedNs { arm(due) }
    }

    /// The timerfd stays armed: firing for a cancelled timer finds nothing due and re-arms.
    func cancel(_ timer: SimulatorTimer) {
        pending.cancel(timer)
    }

    /// The timerfd fired (LWS_CALLBACK_RAW_RX_FILE): runs every timer that is due.
    func expired() {
        cepoll_timerfd_drain(fd)
        armedNs = .max
        let now = cepoll_now_ns()
        while let timer = pending.popDue(now: now) { timer.fire() }
        if let next = pending.earliestDue, next < armedNs { arm(next) }
    }

    private func arm(_ dueNs: UInt64) {
        armedNs = dueNs
        _ = cepoll_timerfd_arm(fd, dueNs)
    }
}

@available(*, unavailable) extension SimulatorTimer: Sendable {}
@available(*, unavailable) extension SimulatorTimers: Sendable {}
