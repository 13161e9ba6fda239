import CCurl
import CLws
import Glibc

/// Drives every upstream transfer with libcurl's multi-socket API on the lws loop: curl's
/// sockets are adopted by lws as raw *file* descriptors (lws only signals readiness, curl keeps
/// reading its own bytes) and curl's single timer is an lws_sul. Only touched on the lws
/// service thread.
final class CurlDriver {
    let multi: UnsafeMutableRawPointer
    private let vhost: OpaquePointer
    private var timer: LoopTimer!
    private var active: [UnsafeMutableRawPointer: UpstreamTransfer] = [:]
    /// One watch per open curl socket. A watch outlives curl's interest in its socket (a kept-
    /// alive connection idles in curl's pool): it is dropped only when curl closes the socket,
    /// so reusing a connection costs no adoption.
    private var watches: [curl_socket_t: FdWatch] = [:]
    static let fdProtocolName = "clawgate-curl-fd"
    private(set) var handles: EasyHandlePool!
    private let writes: WriteCoalescer

    var activeCount: Int { active.count }

    init(context: OpaquePointer, vhost: OpaquePointer, writes: WriteCoalescer) throws {
        guard let m = curl_multi_init() else { throw CurlError(call: "curl_multi_init", message: "out of memory") }
        multi = m
        self.vhost = vhost
        self.writes = writes
        timer = LoopTimer(context: context) { [unowned self] in self.socketAction(CCURL_SOCKET_TIMEOUT, 0) }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try curlCheck(ccurl_multi_setopt_socketfn(m, { _, s, what, userp, _ in
            let driver = Unmanaged<CurlDriver>.fromOpaque(userp!).takeUnretainedValue()
            driver.socketChanged(s, what: what)
            return 0
        }), "CURLMOPT_SOCKETFUNCTION")
        try curlCheck(ccurl_multi_setopt_ptr(m, CURLMOPT_SOCKETDATA, me), "CURLMOPT_SOCKETDATA")
        handles = EasyHandlePool(closeSocket: { clientp, s in
            let driver = Unmanaged<CurlDriver>.fromOpaque(clientp!).takeUnretainedValue()
            driver.socketClosed(s)
            return 0
        }, closeSocketData: me)
        try curlCheck(ccurl_multi_setopt_timerfn(m, { _, timeoutMs, userp in
            let driver = Unmanaged<CurlDriver>.fromOpaque(userp!).takeUnretainedValue()
            // Never call socket_action from here: schedule it on the loop instead.
            if timeoutMs < 0 { driver.timer.cancel() } else { driver.timer.schedule(afterMs: Double(timeoutMs)) }
            return 0
        }), "CURLMOPT_TIMERFUNCTION")
        try curlCheck(ccurl_multi_setopt_ptr(m, CURLMOPT_TIMERDATA, me), "CURLMOPT_TIMERDATA")
        // curl sizes its connection cache by the handles added *now*; as transfers come and go
        // that closes idle keep-alive connections it will want a moment later (measured: 616
        // connections for 5,000 requests at concurrency 50). A fixed, generous cache keeps them.
        try curlCheck(ccurl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, 4096), "CURLMOPT_MAXCONNECTS")
    }

    /// Cancels every transfer without completing it, then frees curl. Call before the lws
    /// context goes away.
    func shutdown() {
        for t in Array(active.values) { cancel(t) }
        timer.cancel()
        curl_multi_cleanup(multi)  // closes pooled connections through socketClosed
        handles.drain()
        for w in watches.values { w.detach() }
        watches.removeAll()
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
    }

    /// Aborts a transfer at once; its delegate gets no completion. Never call this from inside
    /// a curl callback.
    func cancel(_ t: UpstreamTransfer) {
        guard active.removeValue(forKey: t.easy) != nil else { return }
        curl_multi_remove_handle(multi, t.easy)
    }

    func socketAction(_ fd: curl_socket_t, _ events: Int32) {
        writes.coalescing {
            var running: Int32 = 0
            curl_multi_socket_action(multi, fd, events, &running)
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

    // MARK: - sockets

    private func socketChanged(_ s: curl_socket_t, what: Int32) {
        if what == CURL_POLL_REMOVE {
            watches[s]?.setInterest(read: false, write: false)
            return
        }
        let watch: FdWatch
        if let w = watches[s] {
            watch = w
        } else {
            watch = FdWatch(curlFd: s, driver: self)
            guard watch.adopt(vhost: vhost) else { return }
            watches[s] = watch
        }
        watch.setInterest(read: what == CURL_POLL_IN || what == CURL_POLL_INOUT,
                          write: what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    }

    /// curl closes a socket (CURLOPT_CLOSESOCKETFUNCTION): drop our watch first, so lws lets go
    /// of its duplicate and the connection really closes.
    private func socketClosed(_ s: curl_socket_t) {
        watches.removeValue(forKey: s)?.detach()
        close(s)
    }

    /// lws dropped a watch's wsi on its own (hang-up).
    fileprivate func watchLost(_ w: FdWatch) {
        if watches[w.curlFd] === w { watches[w.curlFd] = nil }
    }
}

@available(*, unavailable) extension CurlDriver: Sendable {}

/// One curl socket watched by lws. lws owns a dup of the fd (and closes it when the wsi goes),
/// curl owns the original: nothing is closed twice. The driver's table holds one reference,
/// the wsi's opaque user data another (released on RAW_CLOSE_FILE).
final class FdWatch {
    let curlFd: curl_socket_t
    unowned let driver: CurlDriver
    private(set) var wsi: OpaquePointer?
    private(set) var detached = false
    /// What curl currently waits for; both false while the connection idles in curl's pool.
    private var wantsRead = false
    private var wantsWrite = false

    init(curlFd: curl_socket_t, driver: CurlDriver) {
        self.curlFd = curlFd
        self.driver = driver
    }

    func adopt(vhost: OpaquePointer) -> Bool {
        let dup = clws_dup_cloexec(curlFd)
        guard dup >= 0 else { return false }
        let opaque = Unmanaged.passRetained(self).toOpaque()
        guard let w = clws_adopt_raw_file(vhost, dup, CurlDriver.fdProtocolName, opaque) else {
            Unmanaged<FdWatch>.fromOpaque(opaque).release()
            return false
        }
        wsi = w
        return true
    }

    func setInterest(read: Bool, write: Bool) {
        guard let wsi, !detached else { return }
        if read != wantsRead { lws_rx_flow_control(wsi, read ? 1 : 0) }
        wantsRead = read
        wantsWrite = write
        if write { lws_callback_on_writable(wsi) }
    }

    /// curl is done with the socket: stop watching and let lws drop its dup asynchronously (we
    /// are often inside this very wsi's callback).
    func detach() {
        guard !detached else { return }
        detached = true
        if let wsi {
            lws_rx_flow_control(wsi, 0)
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
        }
    }

    // Called from the raw-file protocol callback.
    func readable() {
        guard !detached, wantsRead else { return }
        driver.socketAction(curlFd, CURL_CSELECT_IN)
    }

    func writable() {
        guard !detached, wantsWrite else { return }
        driver.socketAction(curlFd, CURL_CSELECT_OUT)
        // POLLOUT is one-shot for raw-file wsi: re-arm while curl still wants it.
        if !detached, wantsWrite, let wsi { lws_callback_on_writable(wsi) }
    }

    /// lws dropped the wsi (hang-up) while curl may still own the socket.
    func closedByLoop() {
        wsi = nil
        guard !detached else { return }
        detached = true
        driver.watchLost(self)
        if wantsRead || wantsWrite { driver.socketAction(curlFd, CURL_CSELECT_ERR) }
    }
}

@available(*, unavailable) extension FdWatch: Sendable {}
