import CLws
import Glibc
import LwsEpoll

/// The lws side of the simulator: context, one "http" protocol, the callback switch and the
/// sessions. Everything here runs on the service thread; other threads only reach it through
/// `SimulatorSharedState` and `lws_cancel_service`.
final class SimulatorServer {
    let options: SimulatorOptions
    let shared: SimulatorSharedState
    private(set) var context: OpaquePointer?
    private var protocols: UnsafeMutablePointer<lws_protocols>?
    private var loopWait: OpaquePointer?
    private(set) var timers: SimulatorTimers!
    /// The timerfd's adoption is a WSI_CREATE too, but not a client connection.
    private var adoptingTimerfd = false
    private var ownedStrings: [UnsafeMutablePointer<CChar>] = []
    /// Header building and header reading; one request is handled at a time on this thread.
    let scratchSize = 8192
    let scratch: UnsafeMutablePointer<UInt8>
    private var nextReplyID = 0
    let directives = ReplyDirectives.Cache()
    /// Largest request body accepted; a bigger one is answered 413 so memory stays bounded.
    static let maxBody = 16 * 1024 * 1024

    init(options: SimulatorOptions, shared: SimulatorSharedState) {
        self.options = options
        self.shared = shared
        scratch = .allocate(capacity: scratchSize)
    }

    deinit {
        scratch.deallocate()
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates the context and returns the bound port. Call on the service thread.
    func listen() throws -> Int {
        lws_set_log_level(Int32(LLL_ERR), nil)
        let protos = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protos.initialize(repeating: lws_protocols(), count: 2)
        protos[0].name = UnsafePointer(own("http"))
        protos[0].callback = { wsi, reason, user, input, len in
            guard let wsi, let ctx = lws_get_context(wsi), let owner = lws_context_user(ctx) else { return 0 }
            return Unmanaged<SimulatorServer>.fromOpaque(owner).takeUnretainedValue()
                .callback(wsi, reason, user, input, len)
        }
        protos[0].per_session_data_size = MemoryLayout<UnsafeMutableRawPointer?>.size
        protocols = protos

        var info = lws_context_creation_info()
        info.port = Int32(options.port)
        info.iface = UnsafePointer(own(options.host))
        info.protocols = UnsafePointer(protos)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        if !options.host.contains(":") { info.options |= UInt64(LWS_SERVER_OPTION_DISABLE_IPV6) }
        guard let ctx = lws_create_context(&info) else {
            throw StartError(description: "lws_create_context failed for \(options.host):\(options.port)")
        }
        context = ctx
        guard let vhost = lws_get_vhost_by_name(ctx, "default") else {
            throw StartError(description: "lws vhost 'default' missing")
        }
        adoptingTimerfd = true
        timers = try SimulatorTimers(vhost: vhost)
        adoptingTimerfd = false
        let port = Int(lws_get_vhost_listen_port(vhost))
        guard port > 0 else { throw StartError(description: "could not listen on \(options.host):\(options.port)") }
        return port
    }

    func serve() {
        guard let context else { return }
        // lws_service errors are transient here; leaving early would free the context while
        // `stop()` may still call lws_cancel_service on it.
        // With hundreds of streams, a sleeping poll() over every connection was most of the
        // simulator's CPU per token; the gateway's epoll set serves it here too.
        loopWait = clawgate_lws_epoll_create(16, 8)
        if let loopWait { clawgate_lws_epoll_begin(loopWait, -1) }
        while !shared.isStopRequested { _ = lws_service(context, 0) }
    }

    /// Destroys the context (lws closes every connection, which settles `aborted`), then
    /// frees what lws kept pointers to.
    func tearDown() {
        if let context { lws_context_destroy(context) }
        context = nil
        if let loopWait {
            clawgate_lws_epoll_end(loopWait)
            clawgate_lws_epoll_free(loopWait)
        }
        loopWait = nil
        protocols?.deallocate()
        protocols = nil
        for s in ownedStrings { free(s) }
        ownedStrings.removeAll()
    }

    private func own(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        ownedStrings.append(p)
        return p
    }

    func makeReplyID() -> String {
        nextReplyID += 1
        let n = String(nextReplyID)
        return "chatcmpl-sim" + String(repeating: "0", count: max(0, 12 - n.count)) + n
    }

    // MARK: - callback

    private func callback(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                          _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_WSI_CREATE:
            // One per accepted TCP connection: how tests see whether a client reuses connections.
            if !adoptingTimerfd { shared.update { $0.connections += 1 } }
            return 0
        case LWS_CALLBACK_RAW_RX_FILE:
            timers.expired()
            return 0
        case LWS_CALLBACK_HTTP:
            return httpRequest(wsi, user)
        case LWS_CALLBACK_HTTP_BODY:
            guard let session = session(user), let input else { return 0 }
            if session.requestBody.count + len > Self.maxBody { return -1 }
            session.requestBody.append(contentsOf: UnsafeRawBufferPointer(start: input, count: len))
            return 0
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            guard let session = session(user), session.phase == .receiving else { return 0 }
            start(session)
            return 0
        case LWS_CALLBACK_HTTP_WRITEABLE:
            guard let session = session(user), let context else { return 0 }
            return session.writeable(context: context, scratch: scratch, scratchSize: scratchSize, stats: shared)
        case LWS_CALLBACK_CLOSED_HTTP, LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            releaseSession(user)
            return 0
        // The hub door (SimulatorHub.swift): any WebSocket upgrade lands here.
        case LWS_CALLBACK_ESTABLISHED:
            guard let context else { return -1 }
            let hub = SimulatorHubConnection(wsi: wsi, context: context, directives: directives)
            lws_set_opaque_user_data(wsi, Unmanaged.passRetained(hub).toOpaque())
            lws_callback_on_writable(wsi)
            return 0
        case LWS_CALLBACK_RECEIVE:
            guard let hub = hub(of: wsi), let input else { return 0 }
            hub.received(UnsafeRawBufferPointer(start: input, count: len))
            return 0
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return hub(of: wsi)?.writable() ?? 0
        case LWS_CALLBACK_CLOSED:
            guard let p = lws_get_opaque_user_data(wsi) else { return 0 }
            lws_set_opaque_user_data(wsi, nil)
            let hub = Unmanaged<SimulatorHubConnection>.fromOpaque(p).takeRetainedValue()
            hub.close()
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    private func hub(of wsi: OpaquePointer) -> SimulatorHubConnection? {
        guard let p = lws_get_opaque_user_data(wsi) else { return nil }
        return Unmanaged<SimulatorHubConnection>.fromOpaque(p).takeUnretainedValue()
    }

    private func session(_ user: UnsafeMutableRawPointer?) -> SimulatorSession? {
        guard let p = user?.load(as: UnsafeMutableRawPointer?.self) else { return nil }
        return Unmanaged<SimulatorSession>.fromOpaque(p).takeUnretainedValue()
    }

    private func releaseSession(_ user: UnsafeMutableRawPointer?) {
        guard let user, let p = user.load(as: UnsafeMutableRawPointer?.self) else { return }
        user.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        let session = Unmanaged<SimulatorSession>.fromOpaque(p)
        session.takeUnretainedValue().connectionGone(stats: shared)
        session.release()
    }

    private func httpRequest(_ wsi: OpaquePointer, _ user: UnsafeMutableRawPointer?) -> Int32 {
        guard let user else { return -1 }
        // keep-alive reuses the wsi and its pss; the previous transaction is finished.
        releaseSession(user)
        let method: SimulatorSession.Method
        let path: String
        if let p = header(wsi, WSI_TOKEN_POST_URI) { method = .post; path = p }
        else if let p = header(wsi, WSI_TOKEN_GET_URI) { method = .get; path = p }
        else { method = .other; path = "/" }
        let session = SimulatorSession(wsi: wsi, method: method, path: path,
                                       authorization: header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION))
        user.storeBytes(of: Unmanaged.passRetained(session).toOpaque(), as: UnsafeMutableRawPointer?.self)
        // A POST without a body gets no BODY_COMPLETION from lws; answer it now.
        let contentLength = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH).flatMap { Int($0) } ?? 0
        if method != .post || contentLength == 0 { start(session) }
        else if contentLength > Self.maxBody {
            session.begin(RoutedRequest(response: .error(.init(status: 413, message: "Request body too large.",
                                                                type: "invalid_request_error"))),
                          context: context!, stats: shared)
        }
        return 0
    }

    private func start(_ session: SimulatorSession) {
        guard let context else { return }
        session.begin(route(session), context: context, stats: shared)
    }

    private func header(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
        let n = lws_hdr_total_length(wsi, token)
        guard n > 0 else { return nil }
        if Int(n) + 1 > scratchSize {
            var big = [CChar](repeating: 0, count: Int(n) + 1)
            let n = lws_hdr_copy(wsi, &big, Int32(big.count), token)
            guard n >= 0 else { return nil }
            return String(decoding: big[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let c = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: CChar.self)
        let copied = lws_hdr_copy(wsi, c, Int32(scratchSize), token)
        guard copied >= 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: scratch, count: Int(copied)), as: UTF8.self)
    }
}

@available(*, unavailable)
extension SimulatorServer: Sendable {}
