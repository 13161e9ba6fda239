import CLws

/// A one-shot timer on the simulator's loop (an lws_sul) that runs `action` when it fires. Only
/// touched on the lws service thread; going away cancels it.
final class SimulatorTimer {
    private let sul: UnsafeMutablePointer<clws_timer_t>
    private let action: () -> Void
    private(set) var isArmed = false

    init(action: @escaping () -> Void) {
        self.action = action
        sul = .allocate(capacity: 1)
        sul.initialize(to: clws_timer_t())
        sul.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        clws_timer_cancel(sul)
        sul.deallocate()
    }

    func arm(context: OpaquePointer, ms: Int) {
        isArmed = true
        clws_timer_schedule(context, sul, { sul in
            guard let sul, let owner = clws_timer_owner(sul) else { return }
            let timer = Unmanaged<SimulatorTimer>.fromOpaque(owner).takeUnretainedValue()
            timer.isArmed = false
            timer.action()
        }, Int64(ms) * 1000)
    }

    func cancel() {
        isArmed = false
        clws_timer_cancel(sul)
    }
}

@available(*, unavailable) extension SimulatorTimer: Sendable {}
