import ClawgateCore
@testable import ClawgateProviders
import Testing

struct JanssonTests {
    @Test func roundTripsEveryJSONType() throws {
        let v: JSONValue = ["s": "hé\u{0}llo \"q\"", "n": 3, "f": 2.5, "b": true, "z": nil, "a": [1, "two", ["x": false]]]
        let bytes = Jansson.dump(Jansson.make(v))
        #expect(try Jansson.parse(bytes).get() == v)
    }

    @Test func dumpLeavesRoomForTheFrameHeader() {
        let o = JanssonObject()
        o.set("type", "pong")
        let b = o.dump(headroom: 16)
        #expect(b.prefix(16).allSatisfy { $0 == 0 })
        #expect(String(decoding: b.dropFirst(16), as: UTF8.self) == #"{"type":"pong"}"#)
    }

    @Test func badJSONSaysWhereItBroke() {
        guard case .failure(let e) = Jansson.parse(Array("{\"a\": }".utf8)) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.code == .badRequest)
        #expect(e.message.contains("line 1"))
    }

    @Test func largeValuesDumpWhole() throws {
        let big = JSONValue.string(String(repeating: "x", count: 100_000))
        #expect(try Jansson.parse(Jansson.dump(Jansson.make(big))).get() == big)
    }
}
