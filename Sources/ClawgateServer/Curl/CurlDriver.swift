import CCurl
import ClawgateCore
import CLws
import Glibc

/// Drives every upstream transfer with libcurl's multi-socket API on the lws loop: curl's
/// sockets sit in an epoll set that lws watches as one raw file (`UpstreamSockets`; curl reads
/// its own bytes) and curl's single timer is a loop deadline. Only touched on the lws service
/// thread.
final class CurlDriver {
    let multi: UnsafeMutableRawPointer
    /// curl's single timer: "run now" on the next loop turn, anything later on the deadline
    /// timerfd (an lws timer would spin through its last fraction of a millisecond).
    private var nextTurn: LoopTimer!
    private var later: LoopDeadline!
    private var active: [UnsafeMutableRawPointer: UpstreamTransfer] = [:]
    private var sockets: UpstreamSockets!
    private(set) var handles: EasyHandlePool!
    private let writes: WriteCoalescer
    /// Requests sent this turn whose answers have not been looked for (see `collectIfOverdue`).
    private var unanswered: UnansweredStarts
    private let turns: TurnStats
    /// Inside curl_multi_socket_action: nothing may call into curl again.
    private var acting = false

    var activeCount: Int { active.count }
    /// A descriptor only lws's poll table holds (LwsEpoll recognises the table by it).
    var watchedDescriptor: Int32 { sockets.watchedDescriptor }

    init(context: OpaquePointer, vhost: OpaquePointer, deadlines: LoopDeadlines, writes: WriteCoalescer,
         turnBudgetUs: UInt64, turns: TurnStats) throws {
        guard let m = curl_multi_init() else { throw CurlError(call: "curl_multi_init", message: "out of memory") }
        multi = m
        self.writes = writes
        unanswered = UnansweredStarts(budgetUs: turnBudgetUs)
        self.turns = turns
        nextTurn = LoopTimer(context: context) { [unowned self] in self.socketAction(CCURL_SOCKET_TIMEOUT, 0) }
        later = deadlines.make { [unowned self] in self.socketAction(CCURL_SOCKET_TIMEOUT, 0) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try curlCheck(ccurl_multi_setopt_socketfn(m, { _, s, what, userp, _ in
            let driver = Unmanaged<CurlDriver>.fromOpaque(userp!).takeUnretainedValue()
            driver.sockets.interestChanged(s, what: what)
            return 0
        }), "CURLMOPT_SOCKETFUNCTION")
        try curlCheck(ccurl_multi_setopt_ptr(m, CURLMOPT_SOCKETDATA, me), "CURLMOPT_SOCKETDATA")
        handles = EasyHandlePool(closeSocket: { clientp, s in
            let driver = Unmanaged<CurlDriver>.fromOpaque(clientp!).takeUnretainedValue()
            // Out of the set before the number can be reused.
            driver.sockets.closing(s)
            return close(s)
        }, closeSocketData: me)
        try curlCheck(ccurl_multi_setopt_timerfn(m, { _, timeoutMs, userp in
            Unmanaged<CurlDriver>.fromOpaque(userp!).takeUnretainedValue().timerChanged(timeoutMs)
            return 0
        }), "CURLMOPT_TIMERFUNCTION")
        try curlCheck(ccurl_multi_setopt_ptr(m, CURLMOPT_TIMERDATA, me), "CURLMOPT_TIMERDATA")
        // curl sizes its connection cache by the handles added *now*; as transfers come and go
        // that closes idle keep-alive connections it will want a moment later (measured: 616
        // connections for 5,000 requests at concurrency 50). A fixed, generous cache keeps them.
        try curlCheck(ccurl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, 4096), "CURLMOPT_MAXCONNECTS")
        sockets = try UpstreamSockets(drainBudgetUs: turnBudgetUs) { [unowned self] fd, action in self.socketAction(fd, action) }
        try sockets.attach(to: vhost)
    }

    /// curl's CURLMOPT_TIMERFUNCTION: the one timer is replaced (-1: removed). Never call
    /// socket_action from here: schedule it on the loop instead.
    private func timerChanged(_ timeoutMs: Int) {
        if timeoutMs == 0 {
            later.cancel()
            nextTurn.schedule(afterMs: 0)
        } else {
            nextTurn.cancel()
            if timeoutMs < 0 { later.cancel() } else { later.schedule(afterMs: Double(timeoutMs)) }
        }
    }

    /// Cancels every transfer without completing it, then frees curl. Call before the lws
    /// context goes away.
    func shutdown() {
        for t in Array(active.values) { cancel(t) }
        nextTurn.cancel()
        later.cancel()
        curl_multi_cleanup(multi)  // closes pooled connections through the close-socket callback
        handles.drain()
        sockets.close()
    }

    func start(_ t: UpstreamTransfer) throws {
        active[t.easy] = t
        do {
            try curlCheck(curl_multi_add_handle(multi, t.easy), "curl_multi_add_handle")
        } catch {
            active[t.easy] = nil
            throw error
        }
        // curl asks for a 0 ms timer to begin; acting now instead of on the next loop turn
        // sends the request (on a reused connection) without an extra poll. Not when this start
        // comes from completing another transfer: that runs inside `drainCompleted` already.
        if !draining { socketAction(CCURL_SOCKET_TIMEOUT, 0) }
        unanswered.started(atUs: MonotonicClock.nowUs())
    }

    /// The loop is about to wait for events; whatever it finds, the upstream set included, is
    /// served in the turn that follows.
    func loopTurnBegins() {
        unanswered.looked()
    }

    /// Collects the upstream set when a request sent this turn has waited over the budget for
    /// its answer to be looked for: a turn that starts a wave of chats relays the first
    /// answers as they come instead of after the last start. Call only where no curl, call or
    /// connection code is on the stack (after an lws receive callback has been handled).
    func collectIfOverdue() {
        guard unanswered.oldestUs != nil, !acting, !draining,
              unanswered.overdue(atUs: MonotonicClock.nowUs()) else { return }
        unanswered.looked()
        turns.collectedEarly()
        sockets.collect()
    }

    /// Aborts a transfer at once; its delegate gets no completion. Never call this from inside
    /// a curl callback.
    func cancel(_ t: UpstreamTransfer) {
        guard active.removeValue(forKey: t.easy) != nil else { return }
        curl_multi_remove_handle(multi, t.easy)
    }

    func socketAction(_ fd: curl_socket_t, _ events: Int32) {
        writes.coalescing {
            let outer = acting
            acting = true
            var running: Int32 = 0
            curl_multi_socket_action(multi, fd, events, &running)
            acting = outer
            drainCompleted()
        }
    }

    private var draining = false

    private func drainCompleted() {
        draining = true
        defer { draining = false }
        var left: Int32 = 0
        while let msg = curl_multi_info_read(multi, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
            // The message is only valid until the handle is removed: read it first.
            let result = ccurl_msg_result(msg)
            curl_multi_remove_handle(multi, easy)
            if let t = active.removeValue(forKey: easy) {
                t.delegate.transferCompleted(t, result: result)
            }
        }
    }
}

@available(*, unavailable) extension CurlDriver: Sendable {}
