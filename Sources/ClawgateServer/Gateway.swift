import CLws
import ClawgateCore
import Foundation
import LwsEpoll
import Synchronization

/// What a gateway needs to start.
public struct GatewayOptions: Sendable {
    public var config: GatewayConfig
    /// Folder of static files served at `/` (nil: none).
    public var webRoot: String?
    /// Start-up findings shown by `/readyz` when the gateway cannot serve (e.g. no provider).
    public var notes: [String]
    public var log: GatewayLog
    /// From how many descriptors in lws's table the loop waits in epoll instead of poll()
    /// (back to poll() below half of it); nil: always poll(). See LwsEpoll.
    public var epollFrom: Int?
    /// How long, in µs, one kind of work may keep the loop from the other: a request started in
    /// a turn waits at most this long before the turn stops serving clients to look for upstream
    /// answers (`UnansweredStarts`), and a collection of upstream answers stops draining the set
    /// after it so clients are read again (`UpstreamSockets.collect`).
    public var turnBudgetUs: UInt64

    public init(config: GatewayConfig, webRoot: String? = nil, notes: [String] = [], log: GatewayLog = GatewayLog(),
                epollFrom: Int? = 16, turnBudgetUs: UInt64 = 250) {
        self.config = config
        self.webRoot = webRoot
        self.notes = notes
        self.log = log
        self.epollFrom = epollFrom
        self.turnBudgetUs = turnBudgetUs
    }
}

public struct GatewayStartError: Error, CustomStringConvertible {
    public var description: String
}

/// The gateway process: one lws context and service thread owning every connection, session,
/// timer and upstream transfer. Everything but `start`, `stop`, `listenPort` and `isReady` is
/// only touched on the service thread; those four are safe from any thread.
public final class Gateway: @unchecked Sendable {
    public let config: GatewayConfig
    let options: GatewayOptions
    var log: GatewayLog { options.log }
    let router: Router
    let originPolicy = OriginPolicy()

    // Cross-thread state.
    private let port = Atomic<Int32>(0)
    private let stopping = Atomic<Bool>(false)
    private let ready = Atomic<Bool>(false)
    private let startup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var startError: String?  // written before `startup` is signalled, read after
    private var thread: Thread?
    /// Serves lws's poll() from an epoll set on the service thread; its counters are readable
    /// from any thread.
    private let loopWait: OpaquePointer?

    // Loop-owned state.
    private(set) var context: OpaquePointer!
    private(set) var vhost: OpaquePointer!
    private(set) var curl: CurlDriver!
    private var cAllocations = LwsAllocations()
    private var housekeeping: LoopDeadline?
    /// Every call's deadlines, curl's timer and housekeeping, on one timerfd.
    private(set) var deadlines: LoopDeadlines!
    let counters = GatewayCounters()
    /// Client output produced while curl delivers upstream bytes leaves when curl returns.
    let writes = WriteCoalescer()
    /// Backpressure figures, readable from any thread.
    public let flow = FlowStats()
    /// How the loop divided its turns, readable from any thread.
    public let turns = TurnStats()
    var sessions: [ObjectIdentifier: WSConnection] = [:]
    /// Every call in flight, so shutdown can end each one with an answer.
    private var activeCalls: [ObjectIdentifier: Call] = [:]
    /// HTTP exchanges attached to a connection and not yet answered in full.
    var liveExchanges = 0
    /// The HTTP wsi whose lws callback is running now, if any, and why: a response may be
    /// written at once only from outside it, or from its body-completion callback
    /// (HTTPExchange.canWriteNow).
    var servingHTTPWsi: OpaquePointer?
    var servingHTTPReason = LWS_CALLBACK_HTTP
    /// Set when stop was asked: new work is refused while what is in flight is answered.
    private(set) var isShuttingDown = false
    private var requestSerial: UInt64 = 0
    private let requestPrefix = String(UInt32.random(in: 0...UInt32.max), radix: 16)

    public init(options: GatewayOptions) {
        self.options = options
        config = options.config
        router = Router(config: options.config, now: MonotonicClock.nowMs)
        loopWait = options.epollFrom.flatMap { from in
            let on = UInt32(clamping: max(from, 0))
            return clawgate_lws_epoll_create(on, on / 2)
        }
    }

    deinit {
        if let loopWait { clawgate_lws_epoll_free(loopWait) }
    }

    /// How the service thread has waited so far.
    public var loopWaitStats: LoopWaitStats {
        var s = clawgate_lws_epoll_stats()
        if let loopWait { clawgate_lws_epoll_read_stats(loopWait, &s) }
        return LoopWaitStats(s)
    }

    /// The bound port once listening (0 before).
    public var listenPort: Int { Int(port.load(ordering: .acquiring)) }
    /// True once listening and able to route to at least one provider.
    public var isReady: Bool { ready.load(ordering: .acquiring) }
    var hasProviders: Bool { !config.providers.isEmpty }

    /// Starts the service thread and returns the bound port once listening.
    @discardableResult
    public func start() throws -> Int {
        let t = Thread { [self] in
            runLoop()
            finished.signal()
        }
        t.name = "clawgate-lws"
        t.stackSize = 8 << 20
        thread = t
        t.start()
        startup.wait()
        if let e = startError { throw GatewayStartError(description: e) }
        return listenPort
    }

    /// Asks the loop to stop; safe from any thread (lws_cancel_service is the only lws call
    /// other threads may make).
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let ctx = context { lws_cancel_service(ctx) }
    }

    /// Blocks until the loop has stopped and everything is torn down.
    public func waitUntilStopped() {
        finished.wait()
        finished.signal()
    }

    // MARK: - the loop

    private func runLoop() {
        do {
            try createContext()
        } catch {
            startError = "\(error)"
            startup.signal()
            return
        }
        port.store(lws_get_vhost_listen_port(vhost), ordering: .releasing)
        ready.store(hasProviders, ordering: .releasing)
        log.info("gateway listening", ["listen": "\(config.listen.host):\(listenPort)", "providers": "\(config.providers.count)"])
        startup.signal()
        if let loopWait { clawgate_lws_epoll_begin(loopWait, curl.watchedDescriptor) }
        while !stopping.load(ordering: .acquiring) {
            curl.loopTurnBegins()
            if lws_service(context, 0) < 0 { break }
        }
        drain(deadlineMs: 3000)
        teardown()
    }

    /// Graceful stop: every request in flight gets its terminal `error`, every hub client its
    /// close 1001 after its queued frames, every REST client its response — within a deadline.
    private func drain(deadlineMs: Double) {
        isShuttingDown = true
        ready.store(false, ordering: .releasing)
        let shuttingDown = GatewayError(.overloaded, "the gateway is shutting down")
        for call in Array(activeCalls.values) { call.cancel(shuttingDown, notify: true) }
        for c in Array(sessions.values) { c.close(status: 1001, reason: "gateway shutting down") }
        // lws_service only returns on events: a short ticking timer bounds each wait.
        let tick = LoopTimer(context: context) {}
        let deadline = MonotonicClock.nowMs() + deadlineMs
        while (!sessions.isEmpty || liveExchanges > 0), MonotonicClock.nowMs() < deadline {
            tick.schedule(afterMs: 20)
            if lws_service(context, 0) < 0 { break }
        }
        tick.cancel()
    }

    private func createContext() throws {
        var info = lws_context_creation_info()
        info.port = Int32(config.listen.port)
        info.iface = UnsafePointer(cAllocations.string(config.listen.host == "localhost" ? "127.0.0.1" : config.listen.host))
        info.protocols = UnsafePointer(cAllocations.protocols())
        info.mounts = UnsafePointer(cAllocations.mounts(webRoot: options.webRoot))
        info.pvo = UnsafePointer(cAllocations.defaultProtocolOption(WebSocketProtocol.name))
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.max_http_header_pool = 1024
        info.timeout_secs = 30
        info.options = UInt64(LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE)
        if !config.listen.host.contains(":") { info.options |= UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) }
        lws_set_log_level(LLL_ERR, nil)
        guard let ctx = lws_create_context(&info) else {
            throw GatewayStartError(description: "could not listen on \(config.listen): the address is in use or not available")
        }
        context = ctx
        guard let vh = lws_get_vhost_by_name(ctx, "default") else {
            lws_context_destroy(ctx)
            throw GatewayStartError(description: "lws created no default vhost")
        }
        vhost = vh
        deadlines = try LoopDeadlines(vhost: vh)
        curl = try CurlDriver(context: ctx, vhost: vh, deadlines: deadlines, writes: writes,
                              turnBudgetUs: options.turnBudgetUs, turns: turns)
        housekeeping = deadlines.make { [unowned self] in self.housekeep() }
        housekeeping?.schedule(afterMs: 1000)
    }

    private func teardown() {
        // Whatever the drain could not finish is cut now.
        let shuttingDown = GatewayError(.overloaded, "the gateway is shutting down")
        for call in Array(activeCalls.values) { call.cancel(shuttingDown, notify: false) }
        for c in Array(sessions.values) { c.shutdown() }
        housekeeping?.cancel()
        housekeeping = nil
        deadlines.shutdown()
        curl.shutdown()
        lws_context_destroy(context)
        if let loopWait { clawgate_lws_epoll_end(loopWait) }
        cAllocations.free()
        log.info("gateway stopped")
    }

    /// Once a second: close clients that stopped reading.
    private func housekeep() {
        let now = MonotonicClock.nowMs()
        for c in Array(sessions.values) { c.checkSlowConsumer(now: now) }
        housekeeping?.schedule(afterMs: 1000)
    }

    // MARK: - bookkeeping used by calls and ingresses

    func nextRequestId() -> String {
        requestSerial += 1
        return "req_\(requestPrefix)_\(requestSerial)"
    }

    /// `overloaded` when the gateway is at its in-flight limit.
    func admitCall() -> GatewayError? {
        if isShuttingDown { return GatewayError(.overloaded, "the gateway is shutting down") }
        return counters.inflight >= config.limits.maxInflight
            ? GatewayError(.overloaded, "the gateway is at its limit of \(config.limits.maxInflight) requests in flight (limits.max_inflight)")
            : nil
    }

    func callStarted(_ call: Call) {
        counters.inflight += 1
        activeCalls[ObjectIdentifier(call)] = call
    }

    func callEnded(_ call: Call, result: Result<CallSummary, GatewayError>) {
        counters.inflight -= 1
        activeCalls[ObjectIdentifier(call)] = nil
        switch result {
        case .success(let s):
            counters.metrics.recordRequest(model: call.plan.alias, provider: s.deployment.provider, code: "ok",
                                           durationMs: s.latencyMs, ttftMs: s.ttftMs, overheadMs: s.overheadMs)
        case .failure(let e):
            counters.metrics.recordRequest(model: call.plan.alias, provider: call.deployment?.provider ?? "",
                                           code: e.code.rawValue, durationMs: call.elapsedMs, ttftMs: nil, overheadMs: nil)
        }
    }

    /// A chat request refused before it was routed (unknown model, overloaded, bad body).
    func recordRefused(model: String, _ error: GatewayError) {
        // Only configured aliases become label values: clients must not grow the label set.
        let label = config.model(named: model) != nil ? model : "(unknown)"
        counters.metrics.recordRequest(model: label, provider: "", code: error.code.rawValue,
                                       durationMs: nil, ttftMs: nil, overheadMs: nil)
    }

    func recordUsage(_ usage: Usage, call: Call, deployment: Deployment?) {
        counters.metrics.recordUsage(model: call.plan.alias, usage: usage, costUsd: deployment?.cost(of: usage) ?? 0)
    }

    /// The Prometheus exposition of everything above (PROTOCOL.md section 8).
    func renderMetrics() -> String {
        var seen = Set<String>()
        var circuits: [(String, Bool)] = []
        for alias in config.models {
            for d in alias.deployments where seen.insert(d.name).inserted {
                circuits.append((d.name, router.stats(for: d).circuit == .open))
            }
        }
        return counters.metrics.render(GatewayMetrics.Gauges(
            connections: counters.wsConnections + liveExchanges, sessions: sessions.count,
            inflight: counters.inflight, circuits: circuits))
    }

    /// The aliases clients may name, for `welcome` and `/v1/models`.
    var modelIds: [String] { config.models.map(\.name) }
}

@available(*, unavailable) extension WSConnection: Sendable {}
