import ClawgateCore
import Testing

struct SSEParserTests {
    private func parse(_ text: String, splitEvery n: Int) -> [SSEEvent] {
        var p = SSEParser()
        var out: [SSEEvent] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            p.feed(Array(bytes[i..<min(bytes.count, i + n)])) { out.append($0) }
            i += n
        }
        return out
    }

    static let stream = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: keep-alive comment\n\ndata: line one\ndata: line two\n\ndata:nospace\r\rdata: [DONE]\n\n"

    @Test(arguments: [1, 2, 3, 5, 8, 13, 1000])
    func eventsAreTheSameWhereverTheBytesSplit(n: Int) {
        let events = parse(Self.stream, splitEvery: n)
        #expect(events.map(\.dataString) == ["{\"a\":1}", "line one\nline two", "nospace", "[DONE]"])
        #expect(events.map(\.event) == ["message_start", nil, nil, nil])
    }

    /// Every cut into two chunks, and the buffers freed after each call: events whose data is
    /// lent straight from the caller's buffer must be copied out before that buffer goes.
    @Test func everyTwoWaySplitGivesTheSameEvents() {
        let bytes = Array(Self.stream.utf8)
        for k in 0...bytes.count {
            var p = SSEParser()
            var out: [String] = []
            for part in [Array(bytes[..<k]), Array(bytes[k...])] {
                var chunk = part  // a fresh buffer per call, released when the call returns
                chunk.withUnsafeMutableBytes { raw in
                    p.feedRaw(UnsafeRawBufferPointer(raw)) { _, data in out.append(String(decoding: data, as: UTF8.self)) }
                    raw.initializeMemory(as: UInt8.self, repeating: 0x58)  // scribble over it
                }
            }
            #expect(out == ["{\"a\":1}", "line one\nline two", "nospace", "[DONE]"], "split at \(k)")
        }
    }

    @Test func aCRAtTheEndOfOneChunkAndLFAtTheStartOfTheNextIsOneLineEnd() {
        var p = SSEParser()
        var out: [SSEEvent] = []
        p.feed(Array("data: x\r".utf8)) { out.append($0) }
        p.feed(Array("\n\r".utf8)) { out.append($0) }
        p.feed(Array("\n".utf8)) { out.append($0) }
        #expect(out.map(\.dataString) == ["x"])
    }

    @Test func anIncompleteEventIsNotDispatched() {
        var p = SSEParser()
        var out: [SSEEvent] = []
        p.feed(Array("data: partial\n".utf8)) { out.append($0) }
        #expect(out.isEmpty)
        #expect(p.hasPartialEvent)
    }

    @Test func eventNameWithoutDataDispatchesNothing() {
        #expect(parse("event: ping\n\n", splitEvery: 4).isEmpty)
    }
}
