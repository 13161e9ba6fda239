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
