import CCurl
import CJansson
import Glibc

/// One reusable easy handle and the state of the request it is carrying.
///
/// Only touched on the thread running `RestLoad.run()`.
final class RestTransfer {
    let easy: UnsafeMutableRawPointer
    unowned let load: RestLoad
    var intendedStart: UInt64 = 0
    var firstByte: UInt64 = 0
    var events = 0
    var previousNewline = false
    var overheadMs: Double = -1
    var recorded = false
    var body: [UInt8] = []

    init(load: RestLoad) {
        self.load = load
        easy = curl_easy_init()!
    }

    func reset(start: UInt64, recorded: Bool) {
        intendedStart = start
        firstByte = 0
        events = 0
        previousNewline = false
        overheadMs = -1
        self.recorded = recorded
        body.removeAll(keepingCapacity: true)
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        if firstByte == 0 { firstByte = monotonicNanos() }
        if load.stream {
            var prev = previousNewline
            var n = 0
            for b in bytes {
                if b == 10 { if prev { n += 1 }; prev = true } else if b != 13 { prev = false }
            }
            previousNewline = prev
            events += n
        }
        if load.keepBody { body.append(contentsOf: bytes) }
    }

    /// Reads the gateway's `x-clawgate-overhead-ms` in place. This runs for every response on
    /// the client's core, and only the via side has the header: building Strings (and a Set to
    /// trim them) cost ~6,000 instructions per request there, added to the gateway's figure.
    func header(_ bytes: UnsafeRawBufferPointer) {
        let name = "x-clawgate-overhead-ms:"
        guard bytes.count > name.utf8.count else { return }
        var i = 0
        for c in name.utf8 {
            var b = bytes[i]
            if b >= 65 && b <= 90 { b += 32 }
            if b != c { return }
            i += 1
        }
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
        overheadMs = Self.decimal(bytes, from: i) ?? -1
    }

    /// A non-negative decimal such as `0.441`, up to the end of the line.
    static func decimal(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Double? {
        var whole = 0.0, fraction = 0.0, scale = 1.0, digits = 0, inFraction = false
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 {
                digits += 1
                if inFraction {
                    scale /= 10
                    fraction += Double(b - 0x30) * scale
                } else {
                    whole = whole * 10 + Double(b - 0x30)
                }
            } else if b == 0x2E && !inFraction {
                inFraction = true
            } else if b == 0x0D || b == 0x0A || b == 0x20 || b == 0x09 {
                break
            } else {
                return nil
            }
            i += 1
        }
        return digits > 0 ? whole + fraction : nil
    }
}

/// OpenAI chat completions over HTTP/1.1 keep-alive with libcurl's multi interface, on one thread.
///
/// Closed loop keeps `concurrency` requests in flight; open loop starts requests on a fixed
/// schedule and measures each from its *scheduled* start, so a stalled server cannot hide its
/// queueing delay (no coordinated omission).
final class RestLoad {
    let url: String
    let model: String
    let stream: Bool
    let checkText: Bool
    let plan: LoadPlan
    var keepBody: Bool { checkText }
    private let multi: UnsafeMutableRawPointer
    /// Open loop: wakes the loop at each start time (see `ccurl_multi_poll_until`).
    private let deadlineFd = ccurl_deadline_fd()
    private var headers: UnsafeMutablePointer<curl_slist>?
    private let requestBody: [UInt8]
    private var idle: [RestTransfer] = []
    private var all: [RestTransfer] = []
    private var inFlight = 0
    var result: RunResult

    /// Every recorded request's timing, when `--trace` asked for it.
    var trace: RequestTrace?

    init(url: String, model: String, stream: Bool, checkText: Bool, prompt: String, apiKey: String, plan: LoadPlan, label: String) {
        self.url = url
        self.model = model
        self.stream = stream
        self.checkText = checkText
        self.plan = plan
        multi = curl_multi_init()!
        headers = curl_slist_append(nil, "Content-Type: application/json")
        headers = curl_slist_append(headers, "Expect:")
        headers = curl_slist_append(headers, "Authorization: Bearer \(apiKey)")
        if stream { headers = curl_slist_append(headers, "Accept: text/event-stream") }
        var body = "{\"model\":\(quoted(model)),\"messages\":[{\"role\":\"user\",\"content\":\(quoted(prompt))}]"
        body += stream ? ",\"stream\":true}" : "}"
        requestBody = Array(body.utf8)
        result = RunResult(mode: "rest", label: label, target: url, model: model,
                           concurrency: plan.concurrency, offeredRate: plan.rate)
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(plan.concurrency, plan.maxInFlight > 0 ? min(plan.maxInFlight, 4096) : 0, 16))
    }

    deinit {
        for t in all { curl_easy_cleanup(t.easy) }
        curl_multi_cleanup(multi)
        curl_slist_free_all(headers)
        close(deadlineFd)
    }

    private func makeTransfer() -> RestTransfer {
        let t = RestTransfer(load: self)
        let easy = t.easy
        let me = Unmanaged.passUnretained(t).toOpaque()
        _ = ccurl_easy_setopt_str(easy, CURLOPT_URL, url)
        _ = ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_POST, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, requestBody.count)
        requestBody.withUnsafeBytes { raw in
            _ = ccurl_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress!))
        }
        _ = ccurl_easy_setopt_writefn(easy, CURLOPT_WRITEFUNCTION, { ptr, size, n, user in
            let t = Unmanaged<RestTransfer>.fromOpaque(user!).takeUnretainedValue()
            t.received(UnsafeRawBufferPointer(start: ptr, count: size * n))
            return size * n
        })
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        _ = ccurl_easy_setopt_writefn(easy, CURLOPT_HEADERFUNCTION, { ptr, size, n, user in
            let t = Unmanaged<RestTransfer>.fromOpaque(user!).takeUnretainedValue()
            t.header(UnsafeRawBufferPointer(start: ptr, count: size * n))
            return size * n
        })
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        _ = ccurl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000)
        _ = ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, 120_000)
        all.append(t)
        return t
    }

    private func start(at intended: UInt64, recorded: Bool) {
        let t = idle.popLast() ?? makeTransfer()
        t.reset(start: intended, recorded: recorded)
        inFlight += 1
        curl_multi_add_handle(multi, t.easy)
    }

    private func finish(_ t: RestTransfer, code: CURLcode, now: UInt64) {
        inFlight -= 1
        curl_multi_remove_handle(multi, t.easy)
        idle.append(t)
        guard t.recorded else {
            result.warmupEnded += 1
            return
        }
        if code != CURLE_OK {
            result.fail("curl: " + String(cString: curl_easy_strerror(code)))
            return
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(t.easy, CURLINFO_RESPONSE_CODE, &status)
        guard status == 200 else { result.fail("http \(status)"); return }
        result.completed += 1
        result.latency.add(now &- t.intendedStart)
        trace?.add(start: t.intendedStart, firstByte: stream ? t.firstByte : 0, end: now)
        if stream {
            if t.firstByte > 0 { result.ttft.add(t.firstByte &- t.intendedStart) }
            result.chunks += max(0, t.events - 1)  // the last event is `data: [DONE]`
        } else {
            result.chunks += 1
        }
        if t.overheadMs >= 0 { result.reportedOverhead.add(UInt64(t.overheadMs * 1e6)) }
        if checkText { recordText(t.body) }
    }

    /// Joins the reply's text (message content, or every delta's content) and hashes it.
    private func recordText(_ body: [UInt8]) {
        var hasher = FNV1a()
        var length = 0
        func take(_ json: UnsafeMutablePointer<json_t>?, key: String) {
            guard let json, let choices = json_object_get(json, "choices"),
                  let first = json_array_get(choices, 0), let part = json_object_get(first, key),
                  let content = json_object_get(part, "content"), let s = json_string_value(content) else { return }
            let n = json_string_length(content)
            hasher.add(UnsafeRawBufferPointer(start: s, count: n))
            length += n
        }
        body.withUnsafeBytes { raw in
            if !stream {
                let j = json_loadb(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 0, nil)
                take(j, key: "message")
                json_decref(j)
                return
            }
            var lineStart = 0
            for i in 0..<raw.count where raw[i] == 10 {
                let line = UnsafeRawBufferPointer(rebasing: raw[lineStart..<i])
                lineStart = i + 1
                guard line.count > 6, line[0] == 100, line[1] == 97, line[2] == 116, line[3] == 97, line[4] == 58 else { continue }
                var off = 5
                if line[off] == 32 { off += 1 }
                let payload = UnsafeRawBufferPointer(rebasing: line[off...])
                if payload.count >= 6 && payload[0] == 91 { continue }  // [DONE]
                let j = json_loadb(payload.baseAddress?.assumingMemoryBound(to: CChar.self), payload.count, 0, nil)
                take(j, key: "delta")
                json_decref(j)
            }
        }
        result.textBytes += length
        result.textHashes.insert(hasher.hash)
    }

    func run() -> RunResult {
        let cpu0 = processCPUSeconds()
        let t0 = monotonicNanos()
        let warmEnd = t0 + UInt64(plan.warmup * 1e9)
        var stopAt: UInt64 = plan.duration.map { warmEnd + UInt64($0 * 1e9) } ?? .max
        var started = 0  // recorded requests started
        var unrecorded = 0  // warm-up requests started
        let interval: UInt64 = plan.rate.map { UInt64(1e9 / $0) } ?? 0
        var nextDue = t0
        var stopping = false
        var stopTime: UInt64 = 0

        while true {
            let now = monotonicNanos()
            if !stopping && (now >= stopAt || (plan.requests.map { started >= $0 } ?? false)) {
                stopping = true
                stopTime = now
            }
            if stopping && (inFlight == 0 || now >= stopTime + UInt64(plan.grace * 1e9)) { break }
            if !stopping {
                if plan.isOpenLoop {
                    while nextDue <= now {
                        let rec = nextDue >= warmEnd && unrecorded >= plan.warmupRequests
                        if !rec && nextDue >= warmEnd { unrecorded += 1 }
                        if inFlight >= plan.maxInFlight {
                            if rec { result.fail("overload"); started += 1 }
                        } else {
                            start(at: nextDue, recorded: rec)
                            if rec { started += 1 }
                        }
                        nextDue += interval
                        if let r = plan.requests, started >= r { break }
                    }
                } else {
                    while inFlight < plan.concurrency {
                        let rec = now >= warmEnd && unrecorded >= plan.warmupRequests
                        if !rec && now >= warmEnd { unrecorded += 1 }
                        if rec, let r = plan.requests, started >= r { break }
                        start(at: now, recorded: rec)
                        if rec { started += 1 }
                    }
                }
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            let done = monotonicNanos()
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = ccurl_msg_result(msg)
                var priv: UnsafeMutableRawPointer?
                _ = ccurl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &priv)
                finish(Unmanaged<RestTransfer>.fromOpaque(priv!).takeUnretainedValue(), code: code, now: done)
            }
            // Closed loop: refill at once when something finished.
            if !plan.isOpenLoop && !stopping && inFlight < plan.concurrency { continue }
            if plan.isOpenLoop && !stopping {
                if nextDue > monotonicNanos() {
                    ccurl_multi_poll_until(multi, deadlineFd, nextDue, 50)
                } else {
                    curl_multi_poll(multi, nil, 0, 0, nil)
                }
            } else {
                curl_multi_poll(multi, nil, 0, 50, nil)
            }
        }
        if stopAt == .max { stopAt = stopTime }
        let end = monotonicNanos()
        if inFlight > 0 { result.errorKinds["unfinished", default: 0] += inFlight; result.errors += inFlight }
        // Throughput over the recorded window: warm-up end → last completion.
        result.wallSeconds = Double(end - max(warmEnd, t0)) / 1e9
        result.clientCPUSeconds = processCPUSeconds() - cpu0
        return result
    }
}
