import Foundation
import Testing
@testable import ClawgateServer

/// A loop turn that starts upstream requests looks for their answers once the oldest has
/// waited `turnBudgetUs`, from the end of the client event that started it
/// (`CurlDriver.collectIfOverdue`). A zero budget makes that look follow every start, which
/// shows the hook is where it should be on both doors; a budget no turn reaches never looks
/// early. Either way every answer arrives whole.
@Suite(.serialized)
struct EarlyCollectionTests {
    static let models: [(String, [String])] = [("fast", ["sim-t5"])]

    private func chats(_ h: GatewayHarness, count: Int) throws {
        let ws = try h.connect()
        // Back to back, so several frames are usually served in one turn.
        for i in 0..<count { try ws.send(["type": "chat", "id": "c\(i)", "model": "fast", "prompt": "x"]) }
        var done = Set<String>()
        var texts: [String: String] = [:]
        while done.count < count {
            let frames = try ws.receive { $0["type"] as? String == "done" || $0["type"] as? String == "error" }
            for f in frames {
                guard let id = f["id"] as? String else { continue }
                if f["type"] as? String == "delta" { texts[id, default: ""] += f["text"] as? String ?? "" }
                if f["type"] as? String == "done" { done.insert(id) }
                #expect(f["type"] as? String != "error", "\(f)")
            }
        }
        for i in 0..<count { #expect(texts["c\(i)"] == "w0 w1 w2 w3 w4") }
    }

    @Test func aZeroBudgetLooksAfterEveryChatStart() throws {
        let h = try GatewayHarness(models: Self.models, turnBudgetUs: 0)
        defer { h.shutdown() }
        try chats(h, count: 12)
        // The last look can follow the last answer: an answer already there when curl sent the
        // request is relayed inside the start, before the hook runs.
        #expect(h.eventually { h.gateway.turns.earlyCollections == 12 }, "\(h.gateway.turns.earlyCollections)")
    }

    @Test func aZeroBudgetLooksAfterEveryRESTRequest() throws {
        let h = try GatewayHarness(models: Self.models, turnBudgetUs: 0)
        defer { h.shutdown() }
        let body = #"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#
        for _ in 0..<3 {
            let r = TestHTTP.request("POST", port: h.port, path: "/v1/chat/completions", body: body)
            #expect(r.status == 200)
        }
        #expect(h.eventually { h.gateway.turns.earlyCollections == 3 }, "\(h.gateway.turns.earlyCollections)")
    }

    @Test func aBudgetNoTurnReachesNeverLooksEarly() throws {
        let h = try GatewayHarness(models: Self.models, turnBudgetUs: 3_600_000_000)
        let outcome = Result { try chats(h, count: 12) }
        h.shutdown()  // read once the loop has stopped: no look can come after
        try outcome.get()
        #expect(h.gateway.turns.earlyCollections == 0)
    }
}
