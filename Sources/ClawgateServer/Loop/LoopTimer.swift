import CLws

/// A one-shot timer on the lws loop (an lws_sul). Only touched on the lws service thread.
/// Must be cancelled (or fired) before the lws context is destroyed.
final class LoopTimer {
    private let sul: UnsafeMutablePointer<clws_timer_t>
    private let context: OpaquePointer
    private let action: () -> Void
    private(set) var isScheduled = false

    init(context: OpaquePointer, action: @escaping () -> Void) {
        self.context = context
        self.action = action
        sul = .allocate(capacity: 1)
        sul.initialize(to: clws_timer_t())
        sul.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        clws_timer_cancel(sul)
        sul.deallocate()
    }

    /// (Re)arms the timer to fire after `ms` milliseconds.
    func schedule(afterMs ms: Double) {
        isScheduled = true
        clws_timer_schedule(context, sul, { sul in
            guard let sul, let owner = clws_timer_owner(sul) else { return }
            let timer = Unmanaged<LoopTimer>.fromOpaque(owner).takeUnretainedValue()
            timer.isScheduled = false
            timer.action()
        }, Int64(max(0, ms) * 1000))
    }

    func cancel() {
        guard isScheduled else { return }
        isScheduled = false
        clws_timer_cancel(sul)
    }
}

@available(*, unavailable) extension LoopTimer: Sendable {}
