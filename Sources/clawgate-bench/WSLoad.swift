import CJansson
import CLws
import Glibc
import LwsEpoll

/// The WebSocket hub client: `ws` runs chats over `concurrency` connections (closed loop: one
/// chat at a time per connection; open loop: chats started on a fixed schedule, round robin over
/// the connections); `idle-ws` opens sessions, waits for their `welcome`, and holds them.
///
/// Everything runs on the calling thread inside `lws_service`.
final class WSLoad {
    enum Kind { case chat, idle }

    let kind: Kind
    let target: WSTarget
    let model: String
    let prompt: String
    let plan: LoadPlan
    let checkText: Bool
    let connections: Int
    let connectParallel: Int
    let hold: Double
    /// Closed loop: seconds over which the first chats are spread (0: each starts at its welcome).
    let stagger: Double
    var result: RunResult

    private var context: OpaquePointer?
    private var conns: [WSConnection] = []
    private var connecting = 0
    private var nextToConnect = 0
    private var openCount = 0
    private var welcomed = 0
    private var started = 0
    private var unrecorded = 0
    private var stopping = false
    private var warmEnd: UInt64 = 0
    private var inFlight = 0
    private var roundRobin = 0
    private let timer = UnsafeMutablePointer<clws_timer_t>.allocate(capacity: 1)
    private var strings: [UnsafeMutablePointer<CChar>] = []

    /// Every recorded chat's timing, when `--trace` asked for it.
    var trace: RequestTrace?

    init(kind: Kind, target: WSTarget, url: String, model: String, prompt: String, plan: LoadPlan,
         checkText: Bool, connections: Int, connectParallel: Int, hold: Double, label: String, stagger: Double = 0) {
        self.kind = kind
        self.target = target
        self.model = model
        self.prompt = prompt
        self.plan = plan
        self.checkText = checkText
        self.connections = connections
        self.connectParallel = connectParallel
        self.hold = hold
        self.stagger = stagger
        result = RunResult(mode: kind == .chat ? "ws" : "idle-ws", label: label, target: url, model: model,
                           concurrency: connections, offeredRate: plan.rate)
        timer.initialize(to: clws_timer_t())
    }

    private func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        strings.append(p)
        return p
    }

    private func createContext() -> Bool {
        lws_set_log_level(LLL_ERR, nil)
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(cString("bench"))
        protocols[0].callback = { wsi, reason, user, input, len in
            guard let wsi, let ctx = lws_get_context(wsi), let owner = lws_context_user(ctx) else { return 0 }
            let load = Unmanaged<WSLoad>.fromOpaque(owner).takeUnretainedValue()
            return load.callback(wsi, reason, input, len)
        }
        protocols[0].rx_buffer_size = 4096
        var info = lws_context_creation_info()
        info.port = -1  // CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.fd_limit_per_thread = 0
        context = lws_create_context(&info)
        return context != nil
    }

    // MARK: callbacks

    private func callback(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        let conn = lws_get_opaque_user_data(wsi).map { Unmanaged<WSConnection>.fromOpaque($0).takeUnretainedValue() }
        switch reason {
        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            connecting -= 1
            openCount += 1
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            let why = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? "unknown"
            connecting -= 1
            result.fail("connect: \(why)")
            conn?.closed = true
            conn?.wsi = nil
        case LWS_CALLBACK_CLIENT_RECEIVE:
            guard let conn, let input else { break }
            conn.rx.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
            if lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0 {
                let frame = conn.rx
                conn.rx.removeAll(keepingCapacity: true)
                handleFrame(frame, on: conn)
            }
        case LWS_CALLBACK_CLIENT_WRITEABLE:
            guard let conn, !conn.outbox.isEmpty else { break }
            var frame = conn.outbox.removeFirst()
            let n = frame.count - Int(CLWS_PRE)
            let wrote = frame.withUnsafeMutableBytes { raw in
                lws_write(wsi, raw.baseAddress!.advanced(by: Int(CLWS_PRE)).assumingMemoryBound(to: UInt8.self), n, LWS_WRITE_TEXT)
            }
            if wrote < n { return -1 }
            if !conn.outbox.isEmpty { lws_callback_on_writable(wsi) }
        case LWS_CALLBACK_CLIENT_CLOSED:
            guard let conn else { break }
            if !conn.closed { openCount -= 1 }
            conn.closed = true
            conn.wsi = nil
            for (_, p) in conn.pending where p.recorded { result.fail("closed mid-request") }
            inFlight -= conn.pending.count
            conn.pending.removeAll()
        default:
            break
        }
        return lws_callback_http_dummy(wsi, reason, nil, input, len)
    }

    private func handleFrame(_ frame: [UInt8], on conn: WSConnection) {
        frame.withUnsafeBytes { raw in
            guard let type = scanString(raw, key: typeKey) else { return }
            if equals(type, "delta") {
                guard let id = scanString(raw, key: idKey) else { return }
                let key = String(decoding: id, as: UTF8.self)
                guard var p = conn.pending[key] else { return }
                if p.firstDelta == 0 { p.firstDelta = monotonicNanos() }
                p.deltas += 1
                if checkText, let j = json_loadb(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0, nil) {
                    if let t = json_object_get(j, "text"), let s = json_string_value(t) {
                        let n = json_string_length(t)
                        p.text.add(UnsafeRawBufferPointer(start: s, count: n))
                        p.textBytes += n
                    }
                    json_decref(j)
                }
                conn.pending[key] = p
            } else if equals(type, "done") || equals(type, "error") {
                guard let id = scanString(raw, key: idKey) else { return }
                let key = String(decoding: id, as: UTF8.self)
                guard let p = conn.pending.removeValue(forKey: key) else { return }
                inFlight -= 1
                let now = monotonicNanos()
                if !p.recorded { result.warmupEnded += 1 }
                if p.recorded {
                    if equals(type, "done") {
                        result.completed += 1
                        result.latency.add(now &- p.intendedStart)
                        if p.firstDelta > 0 { result.ttft.add(p.firstDelta &- p.intendedStart) }
                        trace?.add(start: p.intendedStart, firstByte: p.firstDelta, end: now)
                        result.chunks += p.deltas
                        if let j = json_loadb(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0, nil) {
                            if let o = json_object_get(j, "overhead_ms") { result.reportedOverhead.add(UInt64(max(0, json_number_value(o)) * 1e6)) }
                            json_decref(j)
                        }
                        if checkText {
                            result.textBytes += p.textBytes
                            result.textHashes.insert(p.text.hash)
                        }
                    } else {
                        var code = "error"
                        if let j = json_loadb(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0, nil) {
                            if let c = json_object_get(j, "code"), let s = json_string_value(c) { code = "error " + String(cString: s) }
                            json_decref(j)
                        }
                        result.fail(code)
                    }
                }
                if !plan.isOpenLoop && kind == .chat { startChat(on: conn, at: now) }
            } else if equals(type, "welcome") {
                if !conn.welcomed {
                    conn.welcomed = true
                    welcomed += 1
                    if kind == .chat && !plan.isOpenLoop && stagger == 0 { startChat(on: conn, at: monotonicNanos()) }
                }
            }
        }
    }

    private func startChat(on conn: WSConnection, at intended: UInt64) {
        guard !stopping, let wsi = conn.wsi else { return }
        let recorded = intended >= warmEnd && unrecorded >= plan.warmupRequests
        if !recorded && intended >= warmEnd { unrecorded += 1 }
        if recorded, let r = plan.requests, started >= r { return }
        if recorded { started += 1 }
        let id = conn.newId()
        let json = "{\"type\":\"chat\",\"id\":\"\(id)\",\"model\":\(quoted(model)),\"prompt\":\(quoted(prompt))}"
        var frame = [UInt8](repeating: 0, count: Int(CLWS_PRE))
        frame.append(contentsOf: json.utf8)
        conn.pending[id] = WSConnection.Pending(intendedStart: intended, recorded: recorded)
        inFlight += 1
        conn.outbox.append(frame)
        lws_callback_on_writable(wsi)
    }

    private func connectMore() {
        guard let context else { return }
        while nextToConnect < connections && connecting < connectParallel && !stopping {
            let conn = WSConnection(index: nextToConnect)
            conns.append(conn)
            nextToConnect += 1
            var ci = lws_client_connect_info()
            ci.context = context
            ci.address = UnsafePointer(hostC)
            ci.port = Int32(target.port)
            ci.path = UnsafePointer(pathC)
            ci.host = UnsafePointer(hostC)
            ci.origin = UnsafePointer(hostC)
            ci.ietf_version_or_minus_one = -1
            ci.local_protocol_name = UnsafePointer(protoC)
            ci.opaque_user_data = Unmanaged.passUnretained(conn).toOpaque()
            connecting += 1
            conn.wsi = lws_client_connect_via_info(&ci)
            if conn.wsi == nil && !conn.closed {
                // A synchronous failure may already have delivered CONNECTION_ERROR.
                connecting -= 1
                conn.closed = true
                result.fail("connect: lws_client_connect_via_info failed")
            }
        }
    }

    private lazy var hostC = cString(target.host)
    private lazy var pathC = cString(target.path)
    private lazy var protoC = cString("bench")

    private func armTimer(usec: Int64) {
        guard let context else { return }
        timer.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        clws_timer_schedule(context, timer, { sul in
            guard let sul, let owner = clws_timer_owner(sul) else { return }
            _ = Unmanaged<WSLoad>.fromOpaque(owner).takeUnretainedValue()
            // Waking lws_service is all the timer is for; the run loop does the work.
        }, usec)
    }

    func run() -> RunResult {
        guard createContext() else {
            result.fail("lws_create_context failed")
            return result
        }
        // lws waits in poll() over every connection: with 500 sessions that was over half of the
        // client's CPU, on the core it shares with the simulator, so the client's own queueing
        // showed in both sides' TTFT tails. The servers' epoll mirror serves it here too.
        let loopWait = clawgate_lws_epoll_create(16, 8)
        if let loopWait { clawgate_lws_epoll_begin(loopWait, -1) }
        let cpu0 = processCPUSeconds()
        let t0 = monotonicNanos()
        let tick: Int64 = plan.isOpenLoop || stagger > 0 ? 1000 : 10_000
        var firstChatsStarted = 0
        var heldSince: UInt64 = 0
        var stopAt: UInt64 = .max
        var stopTime: UInt64 = 0
        var nextDue: UInt64 = 0
        let interval: UInt64 = plan.rate.map { UInt64(1e9 / $0) } ?? 0
        var loadStart: UInt64 = 0

        while true {
            let now = monotonicNanos()
            connectMore()
            let allUp = nextToConnect == connections && connecting == 0
                && welcomed + result.errors >= connections
            if kind == .idle {
                if allUp && heldSince == 0 {
                    heldSince = now
                    result.connectSeconds = Double(now - t0) / 1e9
                    result.sessionsOpen = welcomed
                    let line = "holding \(welcomed) sessions\n"
                    _ = line.withCString { write(2, $0, strlen($0)) }
                }
                if heldSince > 0 && now >= heldSince + UInt64(hold * 1e9) {
                    result.sessionsOpen = min(result.sessionsOpen, openCount)
                    break
                }
                if heldSince == 0 && now > t0 + 120_000_000_000 { result.fail("connect phase timed out"); break }
            } else {
                if loadStart == 0 && (allUp || plan.isOpenLoop && welcomed > 0 && nextToConnect == connections && connecting == 0) {
                    loadStart = now
                    warmEnd = now + UInt64(plan.warmup * 1e9)
                    stopAt = plan.duration.map { warmEnd + UInt64($0 * 1e9) } ?? .max
                    nextDue = now
                    result.connectSeconds = Double(now - t0) / 1e9
                    result.sessionsOpen = welcomed
                }
                if loadStart == 0 && now > t0 + 120_000_000_000 { result.fail("connect phase timed out"); break }
                // Staggered closed loop: connection i's first chat is due i/N of the window after
                // the load starts, and is measured from then.
                if loadStart > 0 && stagger > 0 && !plan.isOpenLoop && !stopping {
                    while firstChatsStarted < conns.count {
                        let due = loadStart + UInt64(Double(firstChatsStarted) / Double(connections) * stagger * 1e9)
                        guard due <= now else { break }
                        let conn = conns[firstChatsStarted]
                        firstChatsStarted += 1
                        if conn.welcomed && !conn.closed { startChat(on: conn, at: due) }
                    }
                }
                if loadStart > 0 && !stopping && (now >= stopAt || (plan.requests.map { started >= $0 } ?? false)) {
                    stopping = true
                    stopTime = now
                }
                if stopping && (inFlight == 0 || now >= stopTime + UInt64(plan.grace * 1e9)) { break }
                if loadStart > 0 && plan.isOpenLoop && !stopping {
                    let live = conns.filter { $0.welcomed && !$0.closed }
                    while nextDue <= now && !live.isEmpty {
                        let rec = nextDue >= warmEnd
                        if inFlight >= plan.maxInFlight {
                            if rec { result.fail("overload"); started += 1 }
                        } else {
                            roundRobin = (roundRobin + 1) % live.count
                            startChat(on: live[roundRobin], at: nextDue)
                        }
                        nextDue += interval
                    }
                }
                if loadStart > 0 && openCount == 0 && connecting == 0 { result.fail("all connections closed"); break }
            }
            armTimer(usec: tick)
            lws_service(context, 0)
        }
        let end = monotonicNanos()
        if kind == .chat {
            if inFlight > 0 { result.errorKinds["unfinished", default: 0] += inFlight; result.errors += inFlight }
            result.wallSeconds = Double(end - max(warmEnd, loadStart == 0 ? end : loadStart)) / 1e9
        } else {
            result.wallSeconds = Double(end - t0) / 1e9
        }
        result.clientCPUSeconds = processCPUSeconds() - cpu0
        clws_timer_cancel(timer)
        lws_context_destroy(context)
        context = nil
        if let loopWait {
            clawgate_lws_epoll_end(loopWait)
            clawgate_lws_epoll_free(loopWait)
        }
        return result
    }
}

private let typeKey = Array("\"type\":\"".utf8)
private let idKey = Array("\"id\":\"".utf8)

/// The bytes of the first string value after `key` (`"type":"`), without unescaping: frame
/// types and request ids never contain escapes, and escaped quotes in text cannot match `key`.
private func scanString(_ raw: UnsafeRawBufferPointer, key: [UInt8]) -> UnsafeRawBufferPointer? {
    let n = raw.count, k = key.count
    guard n > k else { return nil }
    var i = 0
    outer: while i + k <= n {
        for j in 0..<k where raw[i + j] != key[j] { i += 1; continue outer }
        let start = i + k
        var end = start
        while end < n && raw[end] != 34 { end += 1 }
        return UnsafeRawBufferPointer(rebasing: raw[start..<end])
    }
    return nil
}

private func equals(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
    guard bytes.count == s.utf8CodeUnitCount else { return false }
    let p = s.utf8Start
    for i in 0..<bytes.count where bytes[i] != p[i] { return false }
    return true
}
