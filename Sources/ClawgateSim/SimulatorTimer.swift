import CEpoll
import CLws
import HeapModule

/// A one-shot timer on the simulator's loop that runs `action` when it fires. Only touched on
/// the lws service thread; cancelling, re-arming or going away drops a pending firing.
final class SimulatorTimer {
    private let action: () -> Void
    private(set) var isArmed = false
    /// Tells this arming from earlier ones still queued in `SimulatorTimers`.
    fileprivate var generation: UInt64 = 0

    init(action: @escaping () -> Void) {
        self.action = action
    }

    func arm(context: OpaquePointer, ms: Int) {
        guard let owner = lws_context_user(context) else { return }
        generation &+= 1
        isArmed = true
        Unmanaged<SimulatorServer>.fromOpaque(owner).takeUnretainedValue().timers.schedule(self, afterMs: ms)
    }

    func cancel() {
        isArmed = false
        generation &+= 1
    }

    fileprivate func fire() {
        isArmed = false
        action()
    }
}

/// Every timer of one simulator, due times in a heap and the earliest on a timerfd that lws
/// watches as a raw file. lws's own timers wait in whole milliseconds and spin through the
/// last one: with 500 streams a token is due every 40 µs, so on lws timers the loop never
/// slept (11 service turns per token, most of a core).
final class SimulatorTimers {
    private struct Pending: Comparable {
        var dueNs: UInt64
        var order: UInt64
        var generation: UInt64
        weak var timer: SimulatorTimer?

        static func < (a: Pending, b: Pending) -> Bool { (a.dueNs, a.order) < (b.dueNs, b.order) }
        static func == (a: Pending, b: Pending) -> Bool { (a.dueNs, a.order) == (b.dueNs, b.order) }
    }

    static let protocolName = "http"
    private let fd: Int32
    private var pending = Heap<Pending>()
    private var order: UInt64 = 0
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
        order &+= 1
        pending.insert(Pending(dueNs: due, order: order, generation: timer.generation, timer: timer))
        if due < armedNs { arm(due) }
    }

    /// The timerfd fired (LWS_CALLBACK_RAW_RX_FILE): runs every timer that is due.
    func expired() {
        cepoll_timerfd_drain(fd)
        armedNs = .max
        let now = cepoll_now_ns()
        while let next = pending.min, next.dueNs <= now {
            pending.removeMin()
            if let timer = next.timer, timer.isArmed, timer.generation == next.generation { timer.fire() }
        }
        if let next = pending.min, next.dueNs < armedNs { arm(next.dueNs) }
    }

    private func arm(_ dueNs: UInt64) {
        armedNs = dueNs
        _ = cepoll_timerfd_arm(fd, dueNs)
    }
}

@available(*, unavailable) extension SimulatorTimer: Sendable {}
@available(*, unavailable) extension SimulatorTimers: Sendable {}
