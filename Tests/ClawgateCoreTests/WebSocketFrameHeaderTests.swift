import ClawgateCore
import Testing

struct WebSocketFrameHeaderTests {
    /// RFC 6455 5.2: a final text frame, 7-bit length below 126, then 126 + 16 bits, then
    /// 127 + 64 bits (big-endian); `textHeaderLength` must say how many bytes that took, since
    /// batches are sized with it before they are written.
    @Test(arguments: [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
    func textHeadersFollowTheRFCAndTheirLengthIsKnownAhead(n: Int) {
        var out: [UInt8] = []
        WebSocketFrameHeader.appendText(payloadLength: n, to: &out)
        #expect(out.count == WebSocketFrameHeader.textHeaderLength(payloadLength: n))
        #expect(out.first == 0x81)
        switch n {
        case ..<126:
            #expect(out == [0x81, UInt8(n)])
        case ...0xFFFF:
            #expect(out == [0x81, 126, UInt8(n >> 8), UInt8(n & 0xFF)])
        default:
            #expect(out.count == 10 && out[1] == 127)
            #expect(out[2...].reduce(0) { $0 << 8 | Int($1) } == n)
        }
    }
}
