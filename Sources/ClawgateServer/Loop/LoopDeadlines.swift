import ClawgateCore

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

/// Many deadlines (one per call) in one heap, with a single lws timer armed for the earliest:
/// arming a deadline costs O(log n) where an lws timer of its own walked lws's sorted list of
/// every timer due before it (docs/performance.md, sixth round).
final class LoopDeadlines {
    private var heap = TimerHeap<LoopDeadline>()
    private var timer: LoopTimer!
    private var armedFor: UInt64 = .max

    init(context: OpaquePointer) {
        timer = LoopTimer(context: context) { [unowned self] in self.expired() }
    }

    func make(_ action: @escaping () -> Void) -> LoopDeadline {
        LoopDeadline(queue: self, action: action)
    }

    fileprivate func schedule(_ deadline: LoopDeadline, afterMs ms: Double) {
        heap.schedule(deadline, due: MonotonicClock.nowUs() + UInt64(max(0, ms) * 1000))
        armForEarliest()
    }

    /// The lws timer stays armed: if it fires for a cancelled deadline it finds nothing due
    /// and re-arms for the next, which is cheaper than moving it on every cancel.
    fileprivate func cancel(_ deadline: LoopDeadline) {
        heap.cancel(deadline)
    }

    /// Must run before the lws context is destroyed.
    func shutdown() {
        timer.cancel()
        armedFor = .max
    }

    private func expired() {
        armedFor = .max
        let now = MonotonicClock.nowUs()
        while let deadline = heap.popDue(now: now) { deadline.action() }
        armForEarliest()
    }

    private func armForEarliest() {
        guard let due = heap.earliestDue, due < armedFor else { return }
        armedFor = due
        let now = MonotonicClock.nowUs()
        timer.schedule(afterMs: due > now ? Double(due - now) / 1000 : 0)
    }
}

@available(*, unavailable) extension LoopDeadline: Sendable {}
@available(*, unavailable) extension LoopDeadlines: Sendable {}
