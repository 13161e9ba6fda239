import CEpoll
import CLws
import ClawgateCore
import Glibc

/// A one-shot deadline on the loop, queued in its `LoopDeadlines`. Only touched on the lws
/// service thread.
final class LoopDeadline: HeapTimer {
    var heapIndex = -1
    fileprivate let action: () -> Void
    private unowned let queue: LoopDeadlines

    fileprivate init(queue: LoopDeadlines, action: @escaping () -> Void) {
        self.queue = queue
        self.action = action
    }

    /// (Re)arms the deadline to fire after `ms` milliseconds.
    func schedule(afterMs ms: Double) { queue.schedule(self, afterMs: ms) }

    func cancel() { queue.cancel(self) }
}

/// Many deadlines (one per call, curl's timer, housekeeping) in one heap, with a single
/// timerfd armed for the earliest, which lws watches as a raw file.
///
/// Why not lws timers: an lws timer of its own per deadline walked lws's sorted list of every
/// timer due before it (docs/performance.md, sixth round); and lws 4.1.6 waits in whole
/// milliseconds, rounding the wait down, so the loop spins through the last fraction of a
/// millisecond before every timer it holds. With 500 streams, curl's timer alone kept it
/// spinning: 57,000 empty service turns a second (seventh round). A timerfd wakes the loop to
/// the microsecond. Work for the very next turn stays on an lws timer (`LoopTimer` at 0 ms),
/// which lws runs before it waits, for no system call.
final class LoopDeadlines {
    static let protocolName = "clawgate-deadlines"
    private var heap = TimerHeap<LoopDeadline>()
    private let fd: Int32
    private var watch: OpaquePointer?
    private var armedFor: UInt64 = .max

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// lws owns the descriptor once adopted and closes it with the context.
    init(vhost: OpaquePointer) throws {
        fd = cepoll_timerfd_create()
        guard fd >= 0 else { throw Failure(description: "timerfd_create failed") }
        guard let w = clws_adopt_raw_file(vhost, fd, Self.protocolName, nil) else {
            close(fd)
            throw Failure(description: "could not watch the deadline timer")
        }
        watch = w
        lws_set_opaque_user_data(w, Unmanaged.passUnretained(self).toOpaque())
    }

    func make(_ action: @escaping () -> Void) -> LoopDeadline {
        LoopDeadline(queue: self, action: action)
    }

    fileprivate func schedule(_ deadline: LoopDeadline, afterMs ms: Double) {
        heap.schedule(deadline, due: MonotonicClock.nowUs() + UInt64(max(0, ms) * 1000))
        armForEarliest()
    }

    /// The timerfd stays armed: if it fires for a cancelled deadline it finds nothing due and
    /// re-arms for the next, which is cheaper than a system call on every cancel.
    fileprivate func cancel(_ deadline: LoopDeadline) {
        heap.cancel(deadline)
    }

    /// Must run before the lws context is destroyed (which closes the descriptor).
    func shutdown() {
        if let watch { lws_set_opaque_user_data(watch, nil) }
        watch = nil
        armedFor = 0  // never arm again
    }

    /// The timerfd fired (LWS_CALLBACK_RAW_RX_FILE).
    func expired() {
        guard watch != nil else { return }
        cepoll_timerfd_drain(fd)
        armedFor = .max
        let now = MonotonicClock.nowUs()
        while let deadline = heap.popDue(now: now) { deadline.action() }
        armForEarliest()
    }

    /// lws let go of the descriptor (context teardown).
    func watchClosed() {
        watch = nil
        armedFor = 0
    }

    private func armForEarliest() {
        guard let due = heap.earliestDue, due < armedFor else { return }
        armedFor = due
        _ = cepoll_timerfd_arm(fd, due * 1000)
    }
}

@available(*, unavailable) extension LoopDeadline: Sendable {}
@available(*, unavailable) extension LoopDeadlines: Sendable {}
