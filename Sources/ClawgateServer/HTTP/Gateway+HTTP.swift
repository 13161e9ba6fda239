import CLws
import Glibc
import ClawgateCore
import ClawgateProviders

extension Gateway {
    /// The dynamic HTTP doors' lws callback: one switch; each case hands over to the exchange.
    func httpEvent(_ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
                   _ input: UnsafeMutableRawPointer?, _ len: Int) -> Int32 {
        let outer = (servingHTTPWsi, servingHTTPReason)
        (servingHTTPWsi, servingHTTPReason) = (wsi, reason)
        defer { (servingHTTPWsi, servingHTTPReason) = outer }
        switch reason {
        case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
            return confirmUpgrade(wsi, to: input)
        case LWS_CALLBACK_HTTP:
            let x = HTTPExchange(wsi: wsi, gateway: self)
            attach(x, to: wsi)
            if x.method != .post { route(x) }  // a POST is routed once its body is complete
            return 0
        case LWS_CALLBACK_HTTP_BODY:
            exchange(of: wsi)?.appendBody(UnsafeRawBufferPointer(start: input, count: len))
            return 0
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            if let x = exchange(of: wsi) { route(x) }
            return 0
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return exchange(of: wsi)?.writable() ?? 0
        case LWS_CALLBACK_CLOSED_HTTP, LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            detachExchange(from: wsi)
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        case LWS_CALLBACK_ADD_HEADERS:
            // Static files too carry an x-request-id.
            if let input {
                let args = input.assumingMemoryBound(to: lws_process_html_args.self)
                var name = Array("x-request-id:".utf8) + [0]
                var value = Array(nextRequestId().utf8)
                var p: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(args.pointee.p).assumingMemoryBound(to: UInt8.self)
                let end = p! + Int(args.pointee.max_len)
                if lws_add_http_header_by_name(wsi, &name, &value, Int32(value.count), &p, end) == 0 {
                    let written = UnsafeMutableRawPointer(p!) - UnsafeMutableRawPointer(args.pointee.p)
                    args.pointee.p = UnsafeMutableRawPointer(p!).assumingMemoryBound(to: CChar.self)
                    args.pointee.max_len -= Int32(written)
                }
            }
            return 0
        default:
            return lws_callback_http_dummy(wsi, reason, user, input, len)
        }
    }

    private func attach(_ x: HTTPExchange, to wsi: OpaquePointer) {
        detachExchange(from: wsi)
        liveExchanges += 1
        lws_set_opaque_user_data(wsi, Unmanaged.passRetained(x).toOpaque())
    }

    private func exchange(of wsi: OpaquePointer) -> HTTPExchange? { opaqueOwner(of: wsi, as: HTTPExchange.self) }

    private func detachExchange(from wsi: OpaquePointer) {
        guard let p = lws_get_opaque_user_data(wsi) else { return }
        lws_set_opaque_user_data(wsi, nil)
        liveExchanges -= 1
        Unmanaged<HTTPExchange>.fromOpaque(p).takeRetainedValue().closed()
    }

    /// The response's last byte went out; the wsi may carry the next request.
    func httpExchangeCompleted(_ x: HTTPExchange) {
        x.handler = nil
        if let p = lws_get_opaque_user_data(x.wsi), Unmanaged<HTTPExchange>.fromOpaque(p).takeUnretainedValue() === x {
            lws_set_opaque_user_data(x.wsi, nil)
            liveExchanges -= 1
            Unmanaged<HTTPExchange>.fromOpaque(p).release()
        }
    }

    /// Refuses upgrades anywhere but the hub, from foreign browser origins and during
    /// shutdown, with an HTTP/1.1 error the client can read, then hangs up.
    func confirmUpgrade(_ wsi: OpaquePointer, to upgrade: UnsafeMutableRawPointer?) -> Int32 {
        // An h2c upgrade (curl --http2 on http://) turns the connection into HTTP/2; the doors
        // serve h2 streams as well.
        if let upgrade, strcasecmp(upgrade.assumingMemoryBound(to: CChar.self), "h2c") == 0 {
            if isShuttingDown { return -1 }
            // lws cannot carry a request body across the h2c switch; say so instead of hanging.
            if HTTPRequestHead.method(of: wsi) == .get { return 0 }
            return refuseUpgrade(wsi, GatewayError(.badRequest,
                "an h2c upgrade with a request body is not supported: send it as HTTP/1.1"))
        }
        let refusal: GatewayError?
        if HTTPRequestHead.path(of: wsi) != "/v1/ws" {
            refusal = GatewayError(.notFound, "the WebSocket hub is at /v1/ws")
        } else if !originAllowed(wsi) {
            refusal = GatewayError(.forbidden, "WebSocket upgrades from a web page of another origin are not allowed")
        } else if isShuttingDown {
            refusal = GatewayError(.overloaded, "the gateway is shutting down")
        } else {
            refusal = nil
        }
        guard let refusal else { return 0 }
        return refuseUpgrade(wsi, refusal)
    }

    private func refuseUpgrade(_ wsi: OpaquePointer, _ refusal: GatewayError) -> Int32 {
        // lws answers upgrades it refuses as HTTP/1.0, which WebSocket clients reject as
        // malformed; the whole answer is small, so it is written at once and raw.
        let body = HTTPExchange.errorBody(refusal)
        var head = "HTTP/1.1 \(refusal.code.httpStatus) \(refusal.code.reasonPhrase)\r\n"
        head += "content-type: application/json\r\ncontent-length: \(body.count)\r\n"
        head += "x-request-id: \(nextRequestId())\r\nconnection: close\r\n\r\n"
        var out = framed(Array(head.utf8) + body)
        _ = lwsWrite(wsi, &out, LWS_WRITE_HTTP)  // LWS_WRITE_RAW is a macro alias of this
        return -1
    }

    func originAllowed(_ wsi: OpaquePointer) -> Bool {
        originPolicy.allows(origin: HTTPRequestHead.header(wsi, WSI_TOKEN_ORIGIN),
                            host: HTTPRequestHead.header(wsi, WSI_TOKEN_HOST))
    }

    // MARK: - routing

    private func route(_ x: HTTPExchange) {
        if !originAllowed(x.wsi) {
            x.respondError(GatewayError(.forbidden, "requests from a web page of another origin are not allowed"))
            return
        }
        if x.bodyTooLarge {
            x.respondError(GatewayError(.tooLarge, "request body is over the limit of \(config.limits.maxBodyBytes) bytes (limits.max_body_bytes)"))
            return
        }
        switch (x.method, x.path) {
        case (.get, "/healthz"):
            let o = JanssonObject()
            o.set("status", "ok")
            x.respondJSON(status: 200, o)
        case (.get, "/readyz"):
            respondReadiness(x)
        case (.get, "/v1/models"):
            respondModels(x)
        case (.get, "/metrics"):
            // No credentials exist in this build, so `metrics_public` has nothing to guard yet.
            x.respond(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(renderMetrics().utf8))
        case (.post, "/v1/chat/completions"):
            OpenAIChatDoor.handle(x, gateway: self)
        case (_, "/v1/chat/completions"), (_, "/v1/models"), (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
            x.respondError(GatewayError(.notFound, "\(x.method.rawValue) is not served on \(x.path)"))
        default:
            x.respondError(GatewayError(.notFound, "no door at \(x.path)"))
        }
    }

    private func respondReadiness(_ x: HTTPExchange) {
        let o = JanssonObject()
        if isReady {
            o.set("status", "ok")
            x.respondJSON(status: 200, o)
        } else {
            o.set("status", hasProviders ? "starting" : "no_providers")
            let notes = options.notes.isEmpty && !hasProviders
                ? ["no provider is configured: set OPENAI_API_KEY or OLLAMA_HOST, or pass --config"] : options.notes
            o.set("message", notes.joined(separator: "; "))
            x.respondJSON(status: 503, o)
        }
    }

    private func respondModels(_ x: HTTPExchange) {
        let list = JanssonObject()
        list.set("object", "list")
        let created = WallClock.unixSeconds()
        list.set("data", JSONValue.array(config.models.map { alias in
            ["id": .string(alias.name), "object": "model", "created": .number(Double(created)), "owned_by": "clawgate"]
        }))
        x.respondJSON(status: 200, list)
    }
}
