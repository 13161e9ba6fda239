/// RFC 6455 section 5.2, the server's side: the header of one unmasked, final text frame. The
/// gateway and the simulator frame their messages themselves so that many go out in one
/// `send` (lws writes them raw).
public enum WebSocketFrameHeader {
    /// The bytes `appendText` writes for a payload of `n` bytes.
    public static func textHeaderLength(payloadLength n: Int) -> Int { n < 126 ? 2 : n <= 0xFFFF ? 4 : 10 }

    /// Appends FIN + text opcode, then `payloadLength` in the shortest of the three encodings.
    public static func appendText(payloadLength n: Int, to out: inout [UInt8]) {
        out.append(0x81)
        if n < 126 {
            out.append(UInt8(n))
        } else if n <= 0xFFFF {
            out.append(126)
            out.append(UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
        } else {
            out.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((n >> shift) & 0xFF)) }
        }
    }
}
