/// Finds the first byte of a small set eight bytes at a time (SWAR: one 64-bit load and a few
/// arithmetic steps per eight bytes instead of a compare per byte). The JSON scanner and the
/// SSE parser spend most of their time looking for the next quote or line break.
///
/// Each mask below is exact for its *lowest* set byte (a borrow can only mark bytes above a
/// real match), so the lowest byte set in their union is the first real match.
public enum ByteSearch {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    private static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    @inline(__always)
    private static func bytes(_ v: UInt64, equalTo c: UInt8) -> UInt64 { zeroBytes(v ^ (ones &* UInt64(c))) }

    /// The first index at or after `from` holding `"`, `\` or a control byte (< 0x20), or
    /// `p.count` when there is none: the end of an escape-free JSON string's contents.
    public static func quoteBackslashOrControl(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var j = from
        let n = p.count
        while j + 8 <= n {
            let v = p.loadUnaligned(fromByteOffset: j, as: UInt64.self)
            let m = bytes(v, equalTo: 0x22) | bytes(v, equalTo: 0x5C) | ((v &- ones &* 0x20) & ~v & highs)
            if m != 0 { return j + UInt64(littleEndian: m).trailingZeroBitCount >> 3 }
            j += 8
        }
        while j < n {
            let c = p[j]
            if c == 0x22 || c == 0x5C || c < 0x20 { return j }
            j += 1
        }
        return n
    }

    /// The first index at or after `from` holding LF or CR, or `p.count`.
    public static func lineBreak(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var j = from
        let n = p.count
        while j + 8 <= n {
            let v = p.loadUnaligned(fromByteOffset: j, as: UInt64.self)
            let m = bytes(v, equalTo: 0x0A) | bytes(v, equalTo: 0x0D)
            if m != 0 { return j + UInt64(littleEndian: m).trailingZeroBitCount >> 3 }
            j += 8
        }
        while j < n, p[j] != 0x0A, p[j] != 0x0D { j += 1 }
        return j
    }
}
