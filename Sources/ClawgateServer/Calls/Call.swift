import CCurl
import ClawgateCore
import ClawgateProviders

/// One accepted chat request on its way through the deployments of its route plan: starts an
/// upstream transfer per attempt, decodes the stream, enforces the timeouts, retries or falls
/// back only before the first token reached the client, and ends exactly once. Only touched
/// on the lws service thread.
final class Call: TransferDelegate {
    /// The client's name for the request (WS `id`), or the request id on REST.
    let id: String
    let request: ChatRequest
    let plan: RoutePlan
    private unowned let gateway: Gateway
    private weak var sink: CallSink?

    private var attemptIndex = -1
    private var attemptsMade = 0
    /// The deployment of the current (or last) attempt.
    private(set) var deployment: Deployment?
    private var transfer: UpstreamTransfer?
    private var decoder: (any StreamDecoder)?
    private var errorBody: [UInt8] = []
    private var abortReason: GatewayError?
    private var timer: LoopDeadline?

    private(set) var committed = false
    private(set) var finished = false
    private let acceptedAt: Double
    var elapsedMs: Double { MonotonicClock.nowMs() - acceptedAt }
    private var attemptStartedAt = 0.0
    private var firstTokenAt: Double?
    private var lastActivityAt = 0.0
    private var upstreamWaitMs = 0.0
    /// Time spent in this call's own code while a transfer was open (decode, relay).
    private var ownTimeMs = 0.0
    private var usage: Usage?
    private var finishReason: String?
    private var relayedPieces = 0
    private var relayedText = 0

    /// `receivedAt`: when the request's first byte was seen, so latency and overhead include
    /// reading and decoding it.
    init(id: String, request: ChatRequest, plan: RoutePlan, gateway: Gateway, sink: CallSink,
         receivedAt: Double = MonotonicClock.nowMs()) {
        self.id = id
        self.request = request
        self.plan = plan
        self.gateway = gateway
        self.sink = sink
        acceptedAt = receivedAt
    }

    /// The deadline queue holds its entry strongly and the entry calls back unowned.
    deinit { timer?.cancel() }

    func start() {
        gateway.callStarted(self)
        timer = gateway.deadlines.make { [unowned self] in self.checkDeadlines() }
        nextAttempt(after: nil)
    }

    /// Ends the call at once with `error` (client cancel, disconnect, shutdown). The upstream
    /// transfer is aborted before this returns.
    func cancel(_ error: GatewayError, notify: Bool) {
        guard !finished else { return }
        if let t = transfer, let d = deployment {
            gateway.curl.cancel(t)
            gateway.router.recordCancelled(d)
        }
        transfer = nil
        if !notify { sink = nil }
        finish(.failure(error))
    }

    /// The sink drained: let the upstream deliver again.
    func resumeIfPaused() {
        guard !finished, let t = transfer, t.isPaused else { return }
        lastActivityAt = MonotonicClock.nowMs()
        t.resume()
    }

    // MARK: - attempts

    private func nextAttempt(after failure: GatewayError?) {
        attemptIndex += 1
        guard attemptIndex < plan.attempts.count else {
            finish(.failure(failure ?? GatewayError(.upstreamError, "no deployment could serve '\(plan.alias)'")))
            return
        }
        let d = plan.attempts[attemptIndex]
        // The plan was made when the request arrived; a circuit may have opened since.
        if attemptIndex > 0, !gateway.router.isAvailable(d) {
            nextAttempt(after: failure)
            return
        }
        guard let provider = gateway.config.provider(named: d.provider),
              let adapter = ProviderAdapters.adapter(for: provider.kind) else {
            nextAttempt(after: GatewayError(.internal, "provider '\(d.provider)' has no adapter in this build"))
            return
        }
        deployment = d
        decoder = adapter.makeStreamDecoder()
        errorBody.removeAll()
        abortReason = nil
        usage = nil
        finishReason = nil
        attemptsMade += 1
        attemptStartedAt = MonotonicClock.nowMs()
        lastActivityAt = attemptStartedAt
        // Counted in flight first, so every path below ends it exactly once.
        gateway.router.recordStart(d)
        do {
            let t = try UpstreamTransfer(request: adapter.makeRequest(request, deployment: d, provider: provider),
                                         connectTimeoutMs: gateway.config.limits.connectTimeoutMs, delegate: self,
                                         pool: gateway.curl.handles)
            transfer = t
            try gateway.curl.start(t)
        } catch {
            transfer = nil
            gateway.router.recordFailure(d)
            nextAttempt(after: GatewayError(.internal, "could not start the upstream transfer: \(error)"))
            return
        }
        scheduleDeadlineCheck()
    }

    private func attemptFailed(_ error: GatewayError, retryable: Bool) {
        upstreamWaitMs += MonotonicClock.nowMs() - attemptStartedAt
        transfer = nil
        if let d = deployment { gateway.router.recordFailure(d) }
        if committed || !retryable || MonotonicClock.nowMs() - acceptedAt >= Double(gateway.config.limits.totalTimeoutMs) {
            finish(.failure(error))
        } else {
            gateway.log.info("upstream attempt failed, trying next deployment", [
                "request.id": id, "deployment": deployment?.name ?? "", "error.code": error.code.rawValue])
            nextAttempt(after: error)
        }
    }

    // MARK: - transfer callbacks

    func transfer(_ t: UpstreamTransfer, received bytes: UnsafeRawBufferPointer) -> TransferWriteDecision {
        guard !finished else { return .abort }
        let entered = MonotonicClock.nowMs()
        lastActivityAt = entered
        // Decoding and relaying happen while the transfer is open: that time is the gateway's,
        // not the upstream's, for the overhead figure.
        defer { ownTimeMs += MonotonicClock.nowMs() - entered }
        if t.status >= 400 {
            // Keep a bounded prefix of the error body for the message.
            if errorBody.count < 16 << 10 { errorBody.append(contentsOf: bytes.prefix(16 << 10 - errorBody.count)) }
            return .consumed
        }
        // One load of the weak reference per upstream read, not one per event (each is an
        // atomic round trip through the reference's side table).
        let sink = self.sink
        if let sink, sink.isCongested {
            sink.callPaused(self)
            return .pause
        }
        decoder?.feed(bytes) { event in handle(event, sink: sink) }
        return abortReason == nil ? .consumed : .abort
    }

    private func handle(_ event: StreamEvent, sink: CallSink?) {
        switch event {
        case .text(let s):
            relayedPieces += 1
            relayedText += s.utf8.count
            deliver(event, to: sink)
        case .toolCalls:
            relayedPieces += 1
            deliver(event, to: sink)
        case .usage(let u):
            usage = u
        case .finish(let reason):
            finishReason = reason
        case .error(let e):
            if abortReason == nil { abortReason = e }
        }
    }

    private func deliver(_ event: StreamEvent, to sink: CallSink?) {
        guard abortReason == nil else { return }
        commitIfNeeded()
        // The commit may have ended the call (its sink refused the start).
        guard !finished else { return }
        sink?.call(self, emitted: event)
    }

    private func commitIfNeeded() {
        guard !committed, let d = deployment else { return }
        committed = true
        firstTokenAt = MonotonicClock.nowMs()
        sink?.callCommitted(self, deployment: d)
    }

    func transferCompleted(_ t: UpstreamTransfer, result: CURLcode) {
        guard !finished, t === transfer, let d = deployment else { return }
        let provider = d.provider
        if let reason = abortReason {
            attemptFailed(reason, retryable: true)
        } else if result != CURLE_OK {
            let detail = t.errorDetail.isEmpty ? String(cString: curl_easy_strerror(result)) : t.errorDetail
            if result == CURLE_PARTIAL_FILE || result == CURLE_RECV_ERROR || result == CURLE_GOT_NOTHING {
                attemptFailed(GatewayError(.upstreamError, "provider '\(provider)' ended the stream early: \(detail)"), retryable: true)
            } else if result == CURLE_OPERATION_TIMEDOUT {
                attemptFailed(GatewayError(.upstreamTimeout, "provider '\(provider)' timed out (limits.connect_timeout_ms = \(gateway.config.limits.connectTimeoutMs)): \(detail)"), retryable: true)
            } else {
                attemptFailed(GatewayError(.upstreamError, "provider '\(provider)' failed: \(detail)"), retryable: true)
            }
        } else if t.status >= 400 {
            let message = ProviderAdapters.adapter(for: gateway.config.provider(named: provider)?.kind ?? .openai)?
                .errorMessage(status: t.status, body: errorBody) ?? "HTTP \(t.status)"
            // A request the provider calls malformed will be malformed everywhere.
            let retryable = t.status != 400 && t.status != 422
            attemptFailed(GatewayError(.upstreamError, "provider '\(provider)' answered HTTP \(t.status): \(message)"), retryable: retryable)
        } else if decoder?.sawEnd != true {
            attemptFailed(GatewayError(.upstreamError, "provider '\(provider)' ended the stream early (no end-of-stream marker)"), retryable: true)
        } else {
            succeed(on: d)
        }
    }

    private func succeed(on d: Deployment) {
        let now = MonotonicClock.nowMs()
        upstreamWaitMs += now - attemptStartedAt
        transfer = nil
        commitIfNeeded()
        let u = usage ?? Usage(promptTokens: TokenEstimator.estimatePromptTokens(request.messages),
                               completionTokens: relayedPieces, estimated: true)
        let ttft = (firstTokenAt ?? now) - acceptedAt
        gateway.router.recordSuccess(d, ttftMs: ttft, outputTokens: u.completionTokens, durationMs: now - attemptStartedAt)
        finish(.success(CallSummary(finishReason: finishReason ?? "stop", usage: u, costUsd: d.cost(of: u),
                                    deployment: d, ttftMs: ttft, latencyMs: now - acceptedAt,
                                    overheadMs: max(0, now - acceptedAt - upstreamWaitMs + ownTimeMs), attempts: attemptsMade)))
    }

    private func finish(_ result: Result<CallSummary, GatewayError>) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        timer = nil
        var recorded = result
        if case .failure = result {
            // Usage is never lost: a failed or cancelled call still records what was relayed.
            let u = Usage(promptTokens: attemptsMade > 0 ? TokenEstimator.estimatePromptTokens(request.messages) : 0,
                          completionTokens: relayedPieces, estimated: true)
            gateway.recordUsage(u, call: self, deployment: deployment)
        } else if case .success(let s) = result {
            gateway.recordUsage(s.usage, call: self, deployment: s.deployment)
            recorded = .success(s)
        }
        gateway.callEnded(self, result: recorded)
        sink?.callFinished(self, result: recorded)
        sink = nil
    }

    // MARK: - timeouts

    private func scheduleDeadlineCheck() {
        guard let timer, !finished else { return }
        timer.schedule(afterMs: max(1, nextDeadline() - MonotonicClock.nowMs()))
    }

    /// The earliest deadline: first token (per attempt), idle between chunks, total.
    private func nextDeadline() -> Double {
        let l = gateway.config.limits
        var d = acceptedAt + Double(l.totalTimeoutMs)
        if firstTokenAt == nil {
            d = min(d, attemptStartedAt + Double(l.firstTokenTimeoutMs))
        } else if transfer?.isPaused != true {
            d = min(d, lastActivityAt + Double(l.idleTimeoutMs))
        }
        return d
    }

    /// Timer callback. Checked lazily rather than re-armed per chunk: chunks only move
    /// `lastActivityAt`.
    private func checkDeadlines() {
        guard !finished, transfer != nil else { return }
        let now = MonotonicClock.nowMs()
        guard now >= nextDeadline() else {
            scheduleDeadlineCheck()
            return
        }
        let l = gateway.config.limits
        let (key, value): (String, Int) =
            now - acceptedAt >= Double(l.totalTimeoutMs) ? ("total_timeout_ms", l.totalTimeoutMs)
            : firstTokenAt == nil ? ("first_token_timeout_ms", l.firstTokenTimeoutMs)
            : ("idle_timeout_ms", l.idleTimeoutMs)
        if let t = transfer { gateway.curl.cancel(t) }
        let provider = deployment?.provider ?? "?"
        let error = GatewayError(.upstreamTimeout, "provider '\(provider)' exceeded limits.\(key) (\(value) ms)")
        attemptFailed(error, retryable: true)
    }
}

@available(*, unavailable) extension Call: Sendable {}
