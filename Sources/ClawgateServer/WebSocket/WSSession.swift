import CLws
import ClawgateCore
import ClawgateProviders

/// The protocol state of one hub session (PROTOCOL.md section 3): the frame counter `seq`,
/// the requests in flight by id, and the frames that answer each client frame. Implements
/// `CallSink` for its calls. Only touched on the lws service thread.
final class WSSession: CallSink {
    let id: String
    private weak var connection: WSConnection?
    private unowned let gateway: Gateway
    private var seq = 0
    private var calls: [String: Call] = [:]
    private var autoId = 0

    init(connection: WSConnection, gateway: Gateway) {
        self.connection = connection
        self.gateway = gateway
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        id = "s_" + bytes.map { String($0, radix: 16).leftPad2 }.joined()
    }

    var inflightCount: Int { calls.count }

    // MARK: - frames out

    /// Builds one gateway frame: `type`, then `seq` (per session, +1 each), then the fields.
    private func emit(_ type: String, seqZero: Bool = false, _ fill: (JanssonObject) -> Void) {
        let o = JanssonObject()
        o.set("type", type)
        if seqZero {
            o.set("seq", 0)
        } else {
            seq += 1
            o.set("seq", seq)
        }
        fill(o)
        connection?.enqueue(o.dump(headroom: Int(CLWS_PRE)))
    }

    /// Opens the frame of a chat's life (`start`, `delta`, `done`) with the same leading fields
    /// as emit(), written straight into bytes: built as jansson objects, the start and done
    /// frames were a tenth of the gateway's CPU per chat (perf, 500 one-token chats at once).
    /// The caller adds its members and closes the object.
    private func chatFrame(_ type: StaticString, capacity: Int) -> JSONWriter {
        seq += 1
        var w = JSONWriter(headroom: Int(CLWS_PRE), capacity: capacity)
        w.raw("{\"type\":\"")
        w.raw(type)
        w.raw("\",\"seq\":")
        w.int(seq)
        return w
    }

    private func send(_ frame: inout JSONWriter) {
        frame.raw("}")
        connection?.enqueue(frame.bytes)
    }

    func sendWelcome() {
        let limits = gateway.config.limits
        emit("welcome") { o in
            o.set("session", id)
            o.set("resumed", false)
            o.set("models", JSONValue.array(gateway.modelIds.map { ["id": .string($0), "kinds": ["chat"]] }))
            o.set("limits", [
                "max_frame_bytes": .number(Double(limits.maxFrameBytes)),
                "max_inflight": .number(Double(limits.maxInflight)),
                "max_id_bytes": 64,
            ] as JSONValue)
        }
    }

    private func sendError(_ error: GatewayError, id: String?) {
        emit("error") { o in
            if let id { o.set("id", id) }
            o.set("code", error.code.rawValue)
            o.set("message", error.message)
            if let p = error.param { o.set("param", p) }
            if let r = error.retryAfterMs { o.set("retry_after_ms", r) }
        }
    }

    // MARK: - frames in

    func messageReceived(_ bytes: [UInt8]) {
        let value: JSONValue
        switch Jansson.parse(bytes) {
        case .success(let v): value = v
        case .failure(let e):
            frameRejected(FrameError(id: nil, error: GatewayError(.badRequest, "frame is \(e.message)")))
            return
        }
        let frame: ClientFrame
        do {
            frame = try ClientFrame.parse(value)
        } catch {
            frameRejected(error)
            return
        }
        handle(frame)
    }

    func frameRejected(_ e: FrameError) { sendError(e.error, id: e.id) }

    private func handle(_ frame: ClientFrame) {
        switch frame {
        case .chat(let requestedId, let request):
            startChat(requestedId: requestedId, request: request)
        case .cancel(let id):
            guard let call = calls[id] else {
                // No `id` on this error: the request may have just ended, and a second terminal
                // frame for it would break "exactly one done or error".
                sendError(GatewayError(.notFound, "no request '\(id)' is in flight on this session", param: "id"), id: nil)
                return
            }
            call.cancel(GatewayError(.cancelled, "cancelled by the client"), notify: true)
        case .ping(let v):
            emit("pong") { o in
                if case .object(let fields) = v {
                    for (k, f) in fields where k != "type" && k != "seq" { o.set(k, f) }
                }
            }
        case .hello(_, let resume):
            if let resume {
                // Resume is not built yet: answer as the contract says when the session is gone.
                _ = resume
                emit("welcome", seqZero: true) { o in
                    o.set("session", id)
                    o.set("resumed", false)
                    o.set("models", JSONValue.array(gateway.modelIds.map { ["id": .string($0), "kinds": ["chat"]] }))
                }
            }
        case .subscribe(let topic, _), .unsubscribe(let topic):
            sendError(.badRequest("live '\(topic.rawValue)' subscriptions are not available in this build yet", param: "topic"), id: nil)
        case .unsupported(let type, let id):
            sendError(.badRequest("'\(type)' requests are not available in this build yet", param: "type"), id: id)
        }
    }

    private func startChat(requestedId: String?, request: ChatRequest) {
        let id: String
        if let requestedId {
            id = requestedId
            if calls[id] != nil {
                sendError(GatewayError(.duplicateId, "a request with id '\(id)' is already in flight on this session", param: "id"), id: id)
                return
            }
        } else {
            repeat {
                autoId += 1
            } while calls["r\(autoId)"] != nil
            id = "r\(autoId)"
        }
        if let e = gateway.admitCall() {
            gateway.recordRefused(model: request.model, e)
            sendError(e, id: id)
            return
        }
        let plan: RoutePlan
        do {
            plan = try gateway.router.plan(model: request.model, route: request.route)
        } catch {
            gateway.recordRefused(model: request.model, error)
            sendError(error, id: id)
            return
        }
        let call = Call(id: id, request: request, plan: plan, gateway: gateway, sink: self)
        calls[id] = call
        call.start()
    }

    // MARK: - CallSink

    var isCongested: Bool { connection?.isCongested ?? false }

    func callPaused(_ call: Call) { connection?.pause(call) }

    func callCommitted(_ call: Call, deployment: Deployment) {
        var w = chatFrame("start", capacity: 96 + call.id.utf8.count + deployment.name.utf8.count * 2)
        w.member("id")
        w.string(call.id)
        w.member("model")
        w.string(call.plan.alias)
        w.member("provider")
        w.string(deployment.provider)
        w.member("deployment")
        w.string(deployment.name)
        send(&w)
    }

    func call(_ call: Call, emitted event: StreamEvent) {
        switch event {
        case .text(let s):
            var w = chatFrame("delta", capacity: 48 + call.id.utf8.count + s.utf8.count)
            w.member("id")
            w.string(call.id)
            w.member("text")
            w.string(s)
            send(&w)
        case .toolCalls(let v):
            emit("delta") { o in
                o.set("id", call.id)
                o.set("text", "")
                o.set("tool_calls", v)
            }
        case .usage, .finish, .error:
            break
        }
    }

    func callFinished(_ call: Call, result: Result<CallSummary, GatewayError>) {
        calls[call.id] = nil
        switch result {
        case .success(let s):
            var w = chatFrame("done", capacity: 320 + call.id.utf8.count + s.deployment.name.utf8.count * 2)
            w.member("id")
            w.string(call.id)
            w.member("finish_reason")
            w.string(s.finishReason)
            w.member("usage")
            w.usage(s.usage)
            w.member("cost_usd")
            w.number(s.costUsd)
            w.member("provider")
            w.string(s.deployment.provider)
            w.member("model")
            w.string(call.plan.alias)
            w.member("deployment")
            w.string(s.deployment.name)
            func milliseconds(_ name: StaticString, _ ms: Double) {
                w.member(name)
                w.thousandths(ms)  // to the microsecond
            }
            milliseconds("ttft_ms", s.ttftMs)
            milliseconds("latency_ms", s.latencyMs)
            milliseconds("overhead_ms", s.overheadMs)
            w.member("cached")
            w.bool(false)
            w.member("attempts")
            w.int(s.attempts)
            send(&w)
        case .failure(let e):
            sendError(e, id: call.id)
        }
    }

    // MARK: - lifecycle

    /// Ends every request in flight with `error` (frames are still queued for the client).
    func endAll(_ error: GatewayError) {
        for call in Array(calls.values) { call.cancel(error, notify: true) }
    }

    /// The connection is gone: abort every upstream transfer at once, nothing to tell anyone.
    func connectionClosed() {
        for call in Array(calls.values) { call.cancel(GatewayError(.cancelled, "the client disconnected"), notify: false) }
        calls.removeAll()
    }
}

extension String {
    fileprivate var leftPad2: String { count < 2 ? "0" + self : self }
}
