import CCurl
import Foundation
import Glibc
import Testing
@testable import ClawgateSim

/// Live in-process tests: each test starts its own simulator on an ephemeral port and talks to
/// it with libcurl (or a raw socket when the client must vanish mid-stream).
@Suite(.serialized)
struct OpenAISimulatorTests {
    // MARK: wire shape against OpenAI's recorded fixtures

    @Test func streamWithUsageHasTheFixtureStructure() throws {
        try withSimulator { sim, port in
            let r = post(port, model: "sim-t5", stream: true, includeUsage: true)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream; charset=utf-8")
            #expect(r.header("transfer-encoding") == "chunked")
            let ours = try SSE.events(r.body)
            let theirs = try SSE.events(Fixture.text("chat_stream.sse"))
            #expect(ours.last == "[DONE]" && theirs.last == "[DONE]")

            let o = try ours.dropLast().map(JSONShape.object), t = try theirs.dropLast().map(JSONShape.object)
            for kind in ChunkKind.allCases {
                let mine = o.filter { ChunkKind.of($0) == kind }, fixture = t.filter { ChunkKind.of($0) == kind }
                #expect(!fixture.isEmpty, "fixture lacks a \(kind) chunk")
                #expect(!mine.isEmpty, "stream lacks a \(kind) chunk")
                guard let f = fixture.first else { continue }
                for chunk in mine { JSONShape.expectSameShape(chunk, f, path: "\(kind)", ignoringTopLevel: ["usage"]) }
            }
            // include_usage: every non-final chunk carries usage:null, the final one has choices [].
            for chunk in o.dropLast() { #expect(chunk["usage"] is NSNull) }
            let usage = try #require(o.last?["usage"] as? [String: Any])
            #expect(Set(usage.keys).isSuperset(of: ["prompt_tokens", "completion_tokens", "total_tokens"]))
            #expect(usage["completion_tokens"] as? Int == 5)
            #expect(ChunkKind.of(o[0]) == .role)
            #expect(sim.stats.completed == 1)
        }
    }

    // MARK: the hub door (the benchmark's like-for-like WebSocket baseline)

    @Test func theHubDoorSpeaksTheGatewaysFrames() throws {
        try withSimulator { _, port in
            let ws = try TestWebSocket(port: port)
            let welcome = try ws.receiveJSON()
            #expect(welcome["type"] as? String == "welcome")
            // Two chats at once on one connection, paced differently: each ends with its own done.
            try ws.send(["type": "chat", "id": "a", "model": "sim-t3-d5", "prompt": "hello there"])
            try ws.send(["type": "chat", "id": "b", "model": "sim-t2", "prompt": "hi"])
            var done = Set<String>()
            let frames = try ws.receive(until: { f in
                if f["type"] as? String == "done", let id = f["id"] as? String { done.insert(id) }
                return done.count == 2
            })
            let seqs = ([welcome] + frames).compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(1...(frames.count + 1)), "seq counts every frame without a gap")
            for (id, text, tokens) in [("a", "w0 w1 w2", 3), ("b", "w0 w1", 2)] {
                let mine = frames.filter { $0["id"] as? String == id }
                #expect(mine.first?["type"] as? String == "start")
                #expect(mine.filter { $0["type"] as? String == "delta" }.compactMap { $0["text"] as? String }.joined() == text)
                let usage = try #require(mine.last?["usage"] as? [String: Any])
                #expect(mine.last?["type"] as? String == "done")
                #expect(usage["completion_tokens"] as? Int == tokens)
                #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as? Int ?? 0) + tokens)
            }
            try ws.close()
        }
    }

    @Test func reassembledTextIsTheWordSequence() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-t5", stream: true)
            let chunks = try SSE.events(r.body).dropLast().map(JSONShape.object)
            let text = chunks.compactMap { JSONShape.delta($0)?["content"] as? String }.joined()
            #expect(text == "w0 w1 w2 w3 w4")
            #expect(chunks.allSatisfy { $0["usage"] == nil }, "usage only when stream_options.include_usage")
        }
    }

    @Test func toolCallStreamHasTheFixtureStructure() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-tools", stream: true)
            let ours = try SSE.events(r.body).dropLast().map(JSONShape.object)
            let theirs = try SSE.events(Fixture.text("chat_stream_tool_calls.sse")).dropLast().map(JSONShape.object)
            JSONShape.expectSameShape(ours[0], theirs[0], path: "tool header")
            JSONShape.expectSameShape(ours[1], theirs[1], path: "argument fragment")
            let finish = try #require(ours.first { ChunkKind.of($0) == .finish })
            #expect((finish["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
            let args = ours.compactMap { chunk -> String? in
                let calls = JSONShape.delta(chunk)?["tool_calls"] as? [[String: Any]]
                return (calls?.first?["function"] as? [String: Any])?["arguments"] as? String
            }.joined()
            #expect(args == #"{"city":"Paris"}"#)
        }
    }

    @Test func nonStreamingBodyHasTheFixtureKeySet() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-t3", stream: false)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "application/json")
            let ours = try JSONShape.object(r.body)
            let theirs = try JSONShape.object(Fixture.text("chat_completion.json"))
            #expect(Set(ours.keys) == Set(theirs.keys))
            JSONShape.expectSameShape(ours, theirs, path: "completion", ignoringTopLevel: [], usageSubset: true)
            let message = (ours["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
            #expect(message?["content"] as? String == "w0 w1 w2")
        }
    }

    @Test func maxTokensCapsTheReplyWithFinishReasonLength() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-t10", stream: false, extra: #","max_tokens":4"#)
            let choice = try #require((JSONShape.object(r.body)["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "length")
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "w0 w1 w2 w3 ", "chunk i of t10 keeps its space")
        }
    }

    @Test func e429AnswersWithOpenAIsErrorShapeAndRetryAfter() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-e429", stream: true)
            #expect(r.status == 429)
            #expect(r.header("retry-after") != nil)
            let ours = try JSONShape.object(r.body), theirs = try JSONShape.object(Fixture.text("error_429.json"))
            JSONShape.expectSameShape(ours, theirs, path: "error")
            #expect((ours["error"] as? [String: Any])?["code"] as? String == "rate_limit_exceeded")
        }
    }

    @Test func unknownDirectiveIsModelNotFound() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-bogus", stream: true)
            #expect(r.status == 404)
            let error = try JSONShape.object(r.body)["error"] as? [String: Any]
            #expect(error?["code"] as? String == "model_not_found")
            #expect((error?["message"] as? String)?.contains("sim-bogus") == true)
        }
    }

    @Test func missingMessagesIs400() throws {
        try withSimulator { _, port in
            let r = HTTP.request(port: port, path: "/v1/chat/completions", body: #"{"model":"sim"}"#)
            #expect(r.status == 400)
            let error = try JSONShape.object(r.body)["error"] as? [String: Any]
            #expect(error?["type"] as? String == "invalid_request_error")
        }
    }

    @Test func apiKeyIsRequiredWhenConfigured() throws {
        try withSimulator(SimulatorOptions(apiKey: "k1")) { sim, port in
            #expect(post(port, model: "sim", stream: false).status == 401)
            #expect(post(port, model: "sim", stream: false, headers: ["Authorization: Bearer k1"]).status == 200)
            #expect(sim.stats.lastAuthorization == "Bearer k1")
        }
    }

    // MARK: endings and counters

    @Test func cut3EndsWithoutDone() throws {
        try withSimulator { sim, port in
            let r = post(port, model: "sim-cut3-t10", stream: true, includeUsage: true)
            #expect(r.curlCode != CURLE_OK, "the chunked body must end abruptly")
            let events = try SSE.events(r.body, allowTruncated: true)
            #expect(!events.contains("[DONE]"))
            let chunks = try events.map(JSONShape.object)
            #expect(chunks.filter { ChunkKind.of($0) == .content }.count == 3)
            #expect(!chunks.contains { ChunkKind.of($0) == .finish || ChunkKind.of($0) == .usage })
            #expect(waitUntil { sim.stats.completed == 1 && sim.stats.active == 0 })
            #expect(sim.stats.aborted == 0)
        }
    }

    @Test func err2SendsAMidStreamErrorEvent() throws {
        try withSimulator { _, port in
            let r = post(port, model: "sim-err2", stream: true)
            #expect(r.curlCode == CURLE_OK)
            let events = try SSE.events(r.body, allowTruncated: true)
            #expect(!events.contains("[DONE]"))
            let last = try JSONShape.object(try #require(events.last))
            #expect((last["error"] as? [String: Any])?["type"] as? String == "server_error")
            #expect(events.count == 4) // role, w0, w1, error
        }
    }

    @Test func clientDisconnectMidStreamCountsAsAborted() throws {
        try withSimulator { sim, port in
            let body = #"{"model":"sim-t1000-d5","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
            let fd = try RawClient.connect(port: port)
            try RawClient.send(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            var buf = [UInt8](repeating: 0, count: 4096)
            #expect(recv(fd, &buf, buf.count, 0) > 0)
            #expect(waitUntil { sim.stats.active == 1 })
            close(fd)
            #expect(waitUntil { sim.stats.aborted == 1 })
            #expect(sim.stats.active == 0)
            #expect(sim.stats.completed == 0)
            #expect(sim.stats.started == 1)
        }
    }

    @Test func stopClosesInFlightStreamsAsAborted() throws {
        let sim = OpenAISimulator(options: SimulatorOptions())
        let port = try sim.start()
        let body = #"{"model":"sim-t1000-d5","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let fd = try RawClient.connect(port: port)
        defer { close(fd) }
        try RawClient.send(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(waitUntil { sim.stats.active == 1 })
        sim.stop()
        #expect(sim.stats.aborted == 1)
        #expect(sim.stats.active == 0)
        sim.stop()
    }

    @Test func countersAndResetAndStatsEndpoint() throws {
        try withSimulator { sim, port in
            _ = post(port, model: "sim-t2", stream: true)
            _ = post(port, model: "sim-t2", stream: false)
            _ = post(port, model: "sim-e503", stream: false)
            #expect(waitUntil { sim.stats.completed == 3 })
            #expect(sim.stats.started == 3)
            #expect(sim.stats.lastRequestBody?.contains("sim-e503") == true)
            let stats = try JSONShape.object(HTTP.request(port: port, path: "/sim/stats").body)
            #expect(stats["completed"] as? Int == 3)
            #expect(HTTP.request(port: port, path: "/sim/reset", body: "").status == 200)
            #expect(sim.stats == SimulatorStats())
            let models = try JSONShape.object(HTTP.request(port: port, path: "/v1/models").body)
            #expect((models["data"] as? [[String: Any]])?.first?["owned_by"] as? String == "clawgate-sim")
            #expect(HTTP.request(port: port, path: "/nope").status == 404)
        }
    }

    @Test func firstByteDelayHoldsTheHeaders() throws {
        try withSimulator { _, port in
            let start = Date()
            let r = post(port, model: "sim-f150-t2", stream: true)
            #expect(r.status == 200)
            #expect(Date().timeIntervalSince(start) >= 0.14)
        }
    }

    // MARK: pure values

    @Test func directivesParse() {
        let d = ReplyDirectives.parse(model: "sim-t100-d20-nousage-f5")
        #expect(d?.tokens == 100 && d?.delayMs == 20 && d?.noUsage == true && d?.firstByteMs == 5)
        #expect(ReplyDirectives.parse(model: "sim-cut3")?.cutAfter == 3)
        #expect(ReplyDirectives.parse(model: "sim-err2")?.errorAfter == 2)
        #expect(ReplyDirectives.parse(model: "sim-e429")?.errorStatus == 429)
        #expect(ReplyDirectives.parse(model: "sim-x") == nil)
        #expect(ReplyDirectives.parse(model: "gpt-4o") == nil)
        #expect(SimulatedReply.split("abcdefg", into: 3) == ["ab", "cd", "efg"])
    }

    @Test func theDirectivesCacheAnswersAsParseDoesAndStaysBounded() {
        let cache = ReplyDirectives.Cache()
        for name in ["sim-t100-d20-nousage-f5", "sim-x", "gpt-4o", "sim-e429"] {
            #expect(cache.directives(for: name) == ReplyDirectives.parse(model: name))
            // A second ask (served from the cache) must answer the same, nil included.
            #expect(cache.directives(for: name) == ReplyDirectives.parse(model: name))
        }
        for n in 1...(ReplyDirectives.Cache.limit + 10) { _ = cache.directives(for: "sim-t\(n)") }
        #expect(cache.count <= ReplyDirectives.Cache.limit)
        #expect(cache.directives(for: "sim-t7")?.tokens == 7)
    }
}

// MARK: - helpers

private func withSimulator(_ options: SimulatorOptions = SimulatorOptions(),
                           _ body: (OpenAISimulator, Int) throws -> Void) throws {
    let sim = OpenAISimulator(options: options)
    let port = try sim.start()
    defer { sim.stop() }
    try body(sim, port)
}

/// Polls a condition until it holds or the deadline passes (no fixed sleeps).
private func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

private func post(_ port: Int, model: String, stream: Bool, includeUsage: Bool = false, extra: String = "",
                  headers: [String] = []) -> HTTPResult {
    var body = #"{"model":"\#(model)","messages":[{"role":"user","content":"Say hi"}],"stream":\#(stream)"#
    if includeUsage { body += #","stream_options":{"include_usage":true}"# }
    body += extra + "}"
    return HTTP.request(port: port, path: "/v1/chat/completions", body: body, headers: headers)
}

struct HTTPResult {
    var status: Int
    var body: String
    var headers: [String]
    var curlCode: CURLcode

    func header(_ name: String) -> String? {
        for line in headers {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return nil
    }
}

private final class Collected {
    var body: [UInt8] = []
    var headers: [String] = []
}

enum HTTP {
    /// A blocking libcurl request; POST when `body` is given.
    static func request(port: Int, path: String, body: String? = nil, headers: [String] = []) -> HTTPResult {
        let h = curl_easy_init()!
        defer { curl_easy_cleanup(h) }
        let collected = Collected()
        let box = Unmanaged.passUnretained(collected).toOpaque()
        _ = ccurl_easy_setopt_str(h, CURLOPT_URL, "http://127.0.0.1:\(port)\(path)")
        _ = ccurl_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, 10_000)
        if let body { _ = ccurl_easy_setopt_str(h, CURLOPT_COPYPOSTFIELDS, body) }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in headers + ["Content-Type: application/json"] { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        _ = ccurl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list)
        _ = ccurl_easy_setopt_writefn(h, CURLOPT_WRITEFUNCTION) { ptr, size, n, ud in
            let c = Unmanaged<Collected>.fromOpaque(ud!).takeUnretainedValue()
            c.body.append(contentsOf: UnsafeRawBufferPointer(start: ptr, count: size * n))
            return size * n
        }
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_WRITEDATA, box)
        _ = ccurl_easy_setopt_writefn(h, CURLOPT_HEADERFUNCTION) { ptr, size, n, ud in
            let c = Unmanaged<Collected>.fromOpaque(ud!).takeUnretainedValue()
            c.headers.append(String(decoding: UnsafeRawBufferPointer(start: ptr, count: size * n), as: UTF8.self))
            return size * n
        }
        _ = ccurl_easy_setopt_ptr(h, CURLOPT_HEADERDATA, box)
        let rc = curl_easy_perform(h)
        var status = 0
        _ = ccurl_easy_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResult(status: status, body: String(decoding: collected.body, as: UTF8.self),
                          headers: collected.headers, curlCode: rc)
    }
}

enum RawClient {
    struct Failure: Error { var call: String }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw Failure(call: "socket") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw Failure(call: "connect") }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, 0) == bytes.count else { throw Failure(call: "send") }
    }
}

enum Fixture {
    static func text(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ClawgateProvidersTests/Fixtures/openai/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }
}

enum SSE {
    struct Malformed: Error { var event: String }

    /// The `data:` payloads of a `text/event-stream` body, in order.
    static func events(_ body: String, allowTruncated: Bool = false) throws -> [String] {
        var out: [String] = []
        let blocks = body.components(separatedBy: "\n\n")
        for (i, block) in blocks.enumerated() where !block.isEmpty {
            if i == blocks.count - 1 && !allowTruncated { throw Malformed(event: block) }
            guard block.hasPrefix("data: ") else { throw Malformed(event: block) }
            out.append(String(block.dropFirst(6)))
        }
        return out
    }
}

enum ChunkKind: CaseIterable {
    case role, content, finish, usage

    static func of(_ chunk: [String: Any]) -> ChunkKind? {
        guard let choices = chunk["choices"] as? [[String: Any]] else { return nil }
        guard let choice = choices.first else { return .usage }
        if !(choice["finish_reason"] is NSNull) { return .finish }
        let delta = choice["delta"] as? [String: Any] ?? [:]
        if delta["role"] != nil { return .role }
        return delta["content"] is String ? .content : nil
    }
}

enum JSONShape {
    struct NotAnObject: Error { var text: String }

    static func object(_ text: String) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? [String: Any]
        else { throw NotAnObject(text: text) }
        return o
    }

    static func delta(_ chunk: [String: Any]) -> [String: Any]? {
        (chunk["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
    }

    static func kind(_ v: Any) -> String {
        switch v {
        case is NSNull: return "null"
        case let n as NSNumber: return String(cString: n.objCType) == "c" ? "bool" : "number"
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        default: return "?"
        }
    }

    /// Same keys and the same value kinds, recursively (arrays compare their first elements).
    /// `usageSubset`: a `usage` object may omit the fixture's optional `*_details` breakdowns.
    static func expectSameShape(_ ours: Any, _ theirs: Any, path: String, ignoringTopLevel: Set<String> = [],
                                usageSubset: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(kind(ours) == kind(theirs), "\(path): \(kind(ours)) vs \(kind(theirs))", sourceLocation: sourceLocation)
        if let o = ours as? [String: Any], let t = theirs as? [String: Any] {
            var ok = Set(o.keys).subtracting(ignoringTopLevel), tk = Set(t.keys).subtracting(ignoringTopLevel)
            if usageSubset && path.hasSuffix(".usage") { tk = tk.filter { !$0.hasSuffix("_details") } }
            if path.hasSuffix(".usage") { ok = ok.filter { !$0.hasSuffix("_details") } }
            #expect(ok == tk, "\(path): keys \(ok.sorted()) vs \(tk.sorted())", sourceLocation: sourceLocation)
            for key in ok.intersection(tk) {
                expectSameShape(o[key]!, t[key]!, path: "\(path).\(key)", usageSubset: usageSubset, sourceLocation: sourceLocation)
            }
        } else if let o = ours as? [Any], let t = theirs as? [Any], let of = o.first, let tf = t.first {
            expectSameShape(of, tf, path: "\(path)[0]", usageSubset: usageSubset, sourceLocation: sourceLocation)
        }
    }
}
