/// A connection whose queued output can be written when a coalescing scope ends.
protocol DeferredWriter: AnyObject {
    func flushDeferred()
}

/// Output queued while curl hands over upstream bytes is written when curl's call returns,
/// straight to the client's socket when lws holds nothing back, instead of each connection
/// asking lws for a writable callback. That callback costs a loop turn and, on libuv, four
/// `epoll_ctl` calls (POLLOUT on, then off, each a delete and an add): measured at 500 streams,
/// more syscalls per relayed token than the token's own `recv` and `send`. Everything one read
/// produced for a connection still leaves in one `send`. Only touched on the loop thread.
final class WriteCoalescer {
    private(set) var isOpen = false
    private var writers: [DeferredWriter] = []

    /// Runs `body` with writes deferred to its end. Nested scopes join the outer one.
    func coalescing(_ body: () -> Void) {
        guard !isOpen else { return body() }
        isOpen = true
        body()
        isOpen = false
        // A flush may start more work (a resumed upstream): its output waits for the next scope
        // or asks lws, as outside any scope.
        while !writers.isEmpty {
            let due = writers
            writers.removeAll(keepingCapacity: true)
            for w in due { w.flushDeferred() }
        }
    }

    /// `w` queued output. Inside a scope it is flushed when the scope ends, registered once
    /// (`due` is the writer's own mark, cleared by its `flushDeferred`); outside, `otherwise`
    /// runs (the writer asks lws for a writable callback).
    func outputQueued(by w: DeferredWriter, due: inout Bool, otherwise: () -> Void) {
        guard isOpen else { return otherwise() }
        if !due {
            due = true
            writers.append(w)
        }
    }
}

@available(*, unavailable) extension WriteCoalescer: Sendable {}
