import ClawgateCore
import Foundation
import Testing
@testable import ClawgateServer

/// The hub end to end in one process: a real lws loop, real libcurl transfers, the project's
/// OpenAI simulator as the upstream.
@Suite(.serialized)
struct WebSocketHubTests {
    static let models: [(String, [String])] = [
        ("fast", ["sim-t5"]),
        ("twenty", ["sim-t20"]),
        ("paced", ["sim-t10-d20"]),
        ("long", ["sim-t100000-d5"]),
        ("limited", ["sim-e429"]),
        ("cut", ["sim-cut3"]),
        ("midstream", ["sim-err2"]),
        ("flaky", ["sim-e500"]),
        ("nousage", ["sim-t4-nousage"]),
        ("tools", ["sim-tools"]),
    ]

    private func withHarness(limits: Limits = Limits(), _ body: (GatewayHarness) throws -> Void) throws {
        let h = try GatewayHarness(models: Self.models, fallbacks: ["flaky": ["fast"]], limits: limits)
        defer { h.shutdown() }
        try body(h)
    }

    private func text(of frames: [[String: Any]], id: String) -> String {
        frames.filter { $0["type"] as? String == "delta" && $0["id"] as? String == id }
            .compactMap { $0["text"] as? String }.joined()
    }

    @Test func chatStreamsDeltasThatReassembleToTheUpstreamText() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "model": "fast", "prompt": "hello"])
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            #expect(frames.first?["type"] as? String == "start")
            #expect(frames.first?["id"] as? String == "r1")
            #expect(frames.first?["provider"] as? String == "sim")
            #expect(text(of: frames, id: "r1") == "w0 w1 w2 w3 w4")
            let done = try #require(frames.last)
            #expect(done["type"] as? String == "done")
            #expect(done["finish_reason"] as? String == "stop")
            let usage = try #require(done["usage"] as? [String: Any])
            let prompt = try #require(usage["prompt_tokens"] as? Int)
            #expect(usage["completion_tokens"] as? Int == 5)
            #expect(usage["total_tokens"] as? Int == prompt + 5)
            let cost = try #require(done["cost_usd"] as? Double)
            #expect(abs(cost - (Double(prompt) * 1 + 5 * 2) / 1_000_000) < 1e-12)
            #expect(done["attempts"] as? Int == 1)
            #expect((done["ttft_ms"] as? Double ?? -1) >= 0)
            #expect((done["latency_ms"] as? Double ?? -1) >= (done["ttft_ms"] as? Double ?? 0))
            // welcome was seq 1; then every frame +1.
            #expect(frames.compactMap { $0["seq"] as? Int } == Array(2..<(2 + frames.count)))
            // The upstream request carried the deployment's model and asked for usage.
            let body = try #require(h.simulator.stats.lastRequestBody)
            #expect(body.contains("\"model\":\"sim-t5\""))
            #expect(body.contains("include_usage"))
            #expect(h.simulator.stats.lastAuthorization == "Bearer sim-secret")
        }
    }

    @Test func fiftyRequestsMultiplexOnOneSocketAndEachEndsOnce() throws {
        try withHarness { h in
            let ws = try h.connect()
            for i in 0..<50 { try ws.send(["type": "chat", "id": "c\(i)", "model": "twenty", "prompt": "hi \(i)"]) }
            var ended: [String: Int] = [:]
            var frames: [[String: Any]] = []
            while ended.values.reduce(0, +) < 50 {
                let f = try ws.receiveJSON()
                frames.append(f)
                let type = f["type"] as? String
                if type == "done" || type == "error", let id = f["id"] as? String { ended[id, default: 0] += 1 }
            }
            let expected = (0..<20).map { "w\($0)" }.joined(separator: " ")
            for i in 0..<50 {
                #expect(ended["c\(i)"] == 1)
                #expect(text(of: frames, id: "c\(i)") == expected)
            }
            #expect(frames.allSatisfy { $0["type"] as? String != "error" })
            let seqs = frames.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(2..<(2 + frames.count)))
            // A second wave reuses the first wave's upstream connections.
            for i in 0..<50 { try ws.send(["type": "chat", "id": "again\(i)", "model": "twenty", "prompt": "x"]) }
            var doneAgain = 0
            while doneAgain < 50 {
                let t = try ws.receiveJSON()["type"] as? String
                if t == "done" || t == "error" { doneAgain += 1 }
            }
            #expect(h.simulator.stats.started == 100)
            #expect(h.simulator.stats.connections <= 50, "connections: \(h.simulator.stats.connections)")
            // Nothing arrives after the last terminal frame: a ping is answered next.
            try ws.send(["type": "ping", "nonce": 7])
            let pong = try ws.receiveJSON()
            #expect(pong["type"] as? String == "pong")
            #expect(pong["nonce"] as? Int == 7)
        }
    }

    @Test func cancelEndsTheRequestAndAbortsTheUpstreamTransfer() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "id": "slow", "model": "long", "prompt": "go"])
            _ = try ws.receive { $0["type"] as? String == "delta" }
            try ws.send(["type": "cancel", "id": "slow"])
            let frames = try ws.receive { $0["type"] as? String == "error" || $0["type"] as? String == "done" }
            let end = try #require(frames.last)
            #expect(end["type"] as? String == "error")
            #expect(end["code"] as? String == "cancelled")
            #expect(end["id"] as? String == "slow")
            #expect(h.eventually { h.simulator.stats.aborted == 1 })
            #expect(h.simulator.stats.completed == 0)
        }
    }

    @Test func droppingTheConnectionAbortsItsUpstreamTransfers() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "id": "a", "model": "long", "prompt": "go"])
            try ws.send(["type": "chat", "id": "b", "model": "long", "prompt": "go"])
            _ = try ws.receive { $0["type"] as? String == "delta" }
            #expect(h.eventually { h.simulator.stats.started == 2 })
            ws.drop()
            #expect(h.eventually { h.simulator.stats.aborted == 2 })
        }
    }

    @Test func everyBadFrameGetsAnErrorAndTheConnectionCarriesOn() throws {
        var limits = Limits()
        limits.maxFrameBytes = 4096
        try withHarness(limits: limits) { h in
            let ws = try h.connect()
            let longId = String(repeating: "x", count: 65)
            let cases: [(String, send: () throws -> Void, code: String, id: String?)] = [
                ("not JSON", { try ws.send(text: "hello") }, "bad_request", nil),
                ("not an object", { try ws.send(text: "[1,2]") }, "bad_request", nil),
                ("no type", { try ws.send(["prompt": "x"]) }, "bad_request", nil),
                ("unknown type", { try ws.send(["type": "dance"]) }, "bad_request", nil),
                ("no messages", { try ws.send(["type": "chat", "id": "m1"]) }, "bad_request", "m1"),
                ("mistyped field", { try ws.send(["type": "chat", "id": "m2", "prompt": "x", "max_tokens": "ten"]) }, "bad_request", "m2"),
                ("id over 64 bytes", { try ws.send(["type": "chat", "id": longId, "prompt": "x"]) }, "bad_request", nil),
                ("over max_frame_bytes", { try ws.send(["type": "chat", "prompt": String(repeating: "y", count: 5000)]) }, "too_large", nil),
                ("binary frame", { try ws.send(binary: [1, 2, 3]) }, "bad_request", nil),
                ("unknown model", { try ws.send(["type": "chat", "id": "m3", "model": "nope", "prompt": "x"]) }, "not_found", "m3"),
            ]
            for (i, c) in cases.enumerated() {
                try c.send()
                let err = try ws.receiveJSON()
                #expect(err["type"] as? String == "error", "\(c.0)")
                #expect(err["code"] as? String == c.code, "\(c.0): \(err)")
                #expect(err["id"] as? String == c.id, "\(c.0): \(err)")
                #expect(!(err["message"] as? String ?? "").isEmpty, "\(c.0)")
                try ws.send(["type": "ping", "n": i])
                let pong = try ws.receiveJSON()
                #expect(pong["type"] as? String == "pong", "\(c.0)")
                #expect(pong["n"] as? Int == i, "\(c.0)")
            }
            // A chat still works on the same socket afterwards.
            try ws.send(["type": "chat", "id": "ok", "model": "fast", "prompt": "x"])
            let frames = try ws.receive { $0["type"] as? String == "done" }
            #expect(text(of: frames, id: "ok") == "w0 w1 w2 w3 w4")
        }
    }

    @Test func aDuplicateIdIsRefusedAndTheFirstRequestEndsNormally() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "id": "d", "model": "paced", "prompt": "x"])
            _ = try ws.receive { $0["type"] as? String == "delta" }
            try ws.send(["type": "chat", "id": "d", "model": "fast", "prompt": "x"])
            let frames = try ws.receive { $0["type"] as? String == "done" }
            let errors = frames.filter { $0["type"] as? String == "error" }
            #expect(errors.count == 1)
            #expect(errors.first?["code"] as? String == "duplicate_id")
            #expect(errors.first?["id"] as? String == "d")
            #expect(text(of: frames, id: "d").hasSuffix("w8 w9"))
            #expect(h.simulator.stats.started == 1)
        }
    }

    @Test(arguments: [("limited", "429"), ("cut", "ended the stream early"), ("midstream", "mid-stream")])
    func upstreamFailuresBecomeAnErrorFrameNeverASilentEnd(alias: String, expected: String) throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "id": "u", "model": alias, "prompt": "x"])
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            let end = try #require(frames.last)
            #expect(end["type"] as? String == "error")
            #expect(end["code"] as? String == "upstream_error")
            #expect((end["message"] as? String ?? "").contains(expected), "\(end)")
            #expect(frames.filter { $0["type"] as? String == "done" }.isEmpty)
        }
    }

    @Test func aFailedDeploymentFallsBackBeforeTheFirstToken() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "id": "f", "model": "flaky", "prompt": "x"])
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            let done = try #require(frames.last)
            #expect(done["type"] as? String == "done")
            #expect(done["attempts"] as? Int == 2)
            #expect(done["deployment"] as? String == "sim/sim-t5")
            #expect(text(of: frames, id: "f") == "w0 w1 w2 w3 w4")
            #expect(frames.first?["deployment"] as? String == "sim/sim-t5")
        }
    }

    @Test func usageIsCountedWhenTheProviderSendsNone() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "model": "nousage", "prompt": "x"])
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            let usage = try #require(frames.last?["usage"] as? [String: Any])
            #expect(usage["estimated"] as? Bool == true)
            #expect(usage["completion_tokens"] as? Int == 4)
            #expect((usage["prompt_tokens"] as? Int ?? 0) > 0)
        }
    }

    @Test func toolCallDeltasAreRelayed() throws {
        try withHarness { h in
            let ws = try h.connect()
            try ws.send(["type": "chat", "model": "tools", "prompt": "weather?"])
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            let calls = frames.compactMap { $0["tool_calls"] as? [[String: Any]] }.flatMap { $0 }
            let name = calls.compactMap { ($0["function"] as? [String: Any])?["name"] as? String }.joined()
            let args = calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined()
            #expect(name == "get_weather")
            #expect(args == #"{"city":"Paris"}"#)
            #expect(frames.last?["finish_reason"] as? String == "tool_calls")
        }
    }

    /// The call times out on its first-token deadline, and the loop sleeps until that is due.
    /// On an lws timer it spun through the last fraction of a millisecond (lws 4.1.6 waits in
    /// whole milliseconds, rounding down): hundreds of empty service turns per timer.
    @Test func aSlowFirstTokenTimesOut() throws {
        var limits = Limits()
        limits.firstTokenTimeoutMs = 300
        let h = try GatewayHarness(models: [("sleepy", ["sim-f5000"])], limits: limits)
        defer { h.shutdown() }
        let ws = try h.connect()
        let before = h.gateway.loopWaitStats
        try ws.send(["type": "chat", "id": "z", "model": "sleepy", "prompt": "x"])
        let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
        let after = h.gateway.loopWaitStats
        #expect(frames.last?["code"] as? String == "upstream_timeout")
        let message = frames.last?["message"] as? String ?? ""
        #expect(message.contains("first_token_timeout_ms"))
        #expect(h.eventually { h.simulator.stats.aborted == 1 })
        // The chat, its upstream request, the timeout and the frames: a few turns each.
        let turns = (after.epollTurns + after.pollTurns) - (before.epollTurns + before.pollTurns)
        #expect(turns < 60, "\(turns) service turns for one call that timed out")
    }

    /// Every call's deadline sits in one heap on one timer. Calls that finish leave it
    /// (their entries would otherwise fire into freed calls while the slow ones wait), and
    /// each slow call times out on its own deadline, whatever the order they were armed in.
    @Test func manyCallsKeepTheirOwnDeadlinesOnOneTimer() throws {
        var limits = Limits()
        limits.firstTokenTimeoutMs = 400
        let h = try GatewayHarness(models: [("sleepy", ["sim-f5000"]), ("fast", ["sim-t5"])], limits: limits)
        defer { h.shutdown() }
        let ws = try h.connect()
        for i in 0..<6 {
            try ws.send(["type": "chat", "id": "s\(i)", "model": "sleepy", "prompt": "x"])
            try ws.send(["type": "chat", "id": "f\(i)", "model": "fast", "prompt": "x"])
        }
        var ended: [String: [String: Any]] = [:]
        while ended.count < 12 {
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            if let last = frames.last, let id = last["id"] as? String { ended[id] = last }
        }
        for i in 0..<6 {
            #expect(ended["f\(i)"]?["type"] as? String == "done")
            #expect(ended["s\(i)"]?["code"] as? String == "upstream_timeout")
            let message = ended["s\(i)"]?["message"] as? String
            #expect(message?.contains("first_token_timeout_ms") == true)
        }
        #expect(h.eventually { h.simulator.stats.aborted == 6 })
        // The session and the loop carry on after all of it.
        try ws.send(["type": "chat", "id": "after", "model": "fast", "prompt": "x"])
        let after = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
        #expect(after.last?["type"] as? String == "done")
    }

    @Test func upgradesFromForeignOriginsOrOtherPathsAreRefused() throws {
        try withHarness { h in
            #expect(throws: TestWebSocket.Failure.self) { _ = try TestWebSocket(port: h.port, headers: ["Origin: http://evil.example"]) }
            #expect(throws: TestWebSocket.Failure.self) { _ = try TestWebSocket(port: h.port, path: "/elsewhere") }
            let own = try TestWebSocket(port: h.port, headers: ["Origin: http://127.0.0.1:\(h.port)"])
            #expect(try own.receiveJSON()["type"] as? String == "welcome")
        }
    }

    @Test func stoppingTheGatewayAnswersEveryRequestThenClosesWith1001() throws {
        let h = try GatewayHarness(models: Self.models)
        defer { h.simulator.stop() }
        let ws = try h.connect()
        try ws.send(["type": "chat", "id": "L", "model": "long", "prompt": "x"])
        _ = try ws.receive { $0["type"] as? String == "delta" }
        h.gateway.stop()
        let frames = try ws.receive { $0["type"] as? String == "error" || $0["type"] as? String == "done" }
        #expect(frames.last?["code"] as? String == "overloaded")
        #expect(frames.last?["id"] as? String == "L")
        while try ws.receiveText(timeout: 5) != nil {}
        #expect(ws.closeCode == 1001)
        h.gateway.waitUntilStopped()
        #expect(h.eventually { h.simulator.stats.aborted == 1 })
    }

    @Test func theTotalTimeoutEndsEvenAFlowingStream() throws {
        var limits = Limits()
        limits.totalTimeoutMs = 300
        let h = try GatewayHarness(models: [("steady", ["sim-t1000-d20"])], limits: limits)
        defer { h.shutdown() }
        let ws = try h.connect()
        try ws.send(["type": "chat", "id": "t", "model": "steady", "prompt": "x"])
        let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
        #expect(frames.contains { $0["type"] as? String == "delta" })
        #expect(frames.last?["code"] as? String == "upstream_timeout")
        let message = frames.last?["message"] as? String ?? ""
        #expect(message.contains("total_timeout_ms"))
        #expect(h.eventually { h.simulator.stats.aborted == 1 })
    }

    /// From `epollFrom` descriptors the loop waits in epoll (LwsEpoll). Sessions that leave
    /// free numbers that new ones take while the set is live; below half the threshold the
    /// loop is on poll() again, and every chat is served throughout.
    @Test func sessionsComeAndGoAcrossTheEpollLoop() throws {
        let h = try GatewayHarness(models: Self.models, epollFrom: 16)
        defer { h.shutdown() }
        func sessions(_ n: Int) -> Bool {
            TestHTTP.request(port: h.port, path: "/metrics").text.contains("clawgate_sessions \(n)\n")
        }
        func chatOnEach(_ clients: [TestWebSocket]) throws {
            for (i, ws) in clients.enumerated() { try ws.send(["type": "chat", "id": "c\(i)", "model": "fast", "prompt": "x"]) }
            for (i, ws) in clients.enumerated() {
                let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
                #expect(frames.last?["type"] as? String == "done")
                #expect(text(of: frames, id: "c\(i)") == "w0 w1 w2 w3 w4")
            }
        }
        var clients = try (0..<30).map { _ in try h.connect() }
        try chatOnEach(clients)
        #expect(h.gateway.loopWaitStats.epollTurns > 0)
        clients.removeLast(10)
        #expect(h.eventually { sessions(20) })
        clients += try (0..<10).map { _ in try h.connect() }
        try chatOnEach(clients)
        clients.removeLast(28)
        #expect(h.eventually { sessions(2) })
        let quiet = h.gateway.loopWaitStats
        try chatOnEach(clients)
        let after = h.gateway.loopWaitStats
        #expect(after.pollTurns > quiet.pollTurns)
        #expect(after.rebuilds == 0)
        #expect(after.fallbacks == 0)
    }

    @Test func anUnreachableProviderIsAnUpstreamError() throws {
        // A port that was just bound and released: nothing listens there.
        let probe = try GatewayHarness(models: [("x", ["sim"])])
        let deadPort = probe.port
        probe.shutdown()
        let config = GatewayConfig(listen: ListenAddress(host: "127.0.0.1", port: 0),
                                   providers: [ProviderConfig(name: "gone", kind: .openaiCompatible, baseURL: "http://127.0.0.1:\(deadPort)/v1")],
                                   models: [ModelAlias(name: "gone", deployments: [Deployment(provider: "gone", model: "m")])])
        let gateway = Gateway(options: GatewayOptions(config: config, log: GatewayLog(minimum: .error)))
        let port = try gateway.start()
        defer {
            gateway.stop()
            gateway.waitUntilStopped()
        }
        let ws = try TestWebSocket(port: port)
        _ = try ws.receiveJSON()
        try ws.send(["type": "chat", "id": "g", "model": "gone", "prompt": "x"])
        let end = try ws.receiveJSON()
        #expect(end["type"] as? String == "error")
        #expect(end["code"] as? String == "upstream_error")
        #expect(end["id"] as? String == "g")
        let message = end["message"] as? String ?? ""
        #expect(message.contains("'gone'"))
    }

    @Test func aSlowReaderPausesItsUpstreamInsteadOfGrowingMemory() throws {
        let chunks = 60000
        var limits = Limits()
        limits.pendingOutputHighBytes = 64 << 10
        let h = try GatewayHarness(models: [("flood", ["sim-t\(chunks)"])], limits: limits)
        defer { h.shutdown() }
        let ws = try TestWebSocket(port: h.port, receiveBufferBytes: 4096)
        _ = try ws.receiveJSON()
        try ws.send(["type": "chat", "id": "big", "model": "flood", "prompt": "x"])
        // The client reads nothing: the gateway must pause the upstream, not queue 60k frames.
        #expect(h.eventually { h.gateway.flow.snapshot.pauses >= 1 })
        #expect(h.simulator.stats.completed == 0)
        let atPause = h.gateway.flow.snapshot.maxPendingBytesAtPause
        #expect(atPause <= limits.pendingOutputHighBytes + (256 << 10), "pending output at pause: \(atPause)")
        // Now read everything: every delta arrives, in order, and the stream completes.
        var count = 0
        var expectedNext = 0
        var inOrder = true
        while true {
            let f = try ws.receiveJSON(timeout: 60)
            let type = f["type"] as? String
            if type == "delta" {
                let t = (f["text"] as? String ?? "").trimmingCharacters(in: .whitespaces)
                if t != "w\(expectedNext)" { inOrder = false }
                expectedNext += 1
                count += 1
            } else if type == "done" || type == "error" {
                #expect(type == "done", "\(f)")
                break
            }
        }
        #expect(count == chunks)
        #expect(inOrder)
        #expect(h.gateway.flow.snapshot.resumes >= 1)
    }
}
