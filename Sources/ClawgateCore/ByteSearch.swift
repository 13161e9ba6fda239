/// Finds the first byte of a small set sixteen bytes at a time (vector compares), and in the
/// last fifteen bytes eight at a time (SWAR: one 64-bit load and a few arithmetic steps per
/// eight bytes instead of a compare per byte). The JSON scanner, the JSON writer and the SSE
/// parser spend most of their time looking for the next quote, escape or line break.
///
/// Each SWAR mask below is exact for its *lowest* set byte (a borrow can only mark bytes above
/// a real match), so the lowest byte set in their union is the first real match.
public enum ByteSearch {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    private static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }

    @inline(__always)
    private static func bytes(_ v: UInt64, equalTo c: UInt8) -> UInt64 { zeroBytes(v ^ (ones &* UInt64(c))) }

    /// The first lane set, if any. Vector-to-vector compares and a look at the mask as two
    /// words compile to a handful of SSE2 instructions; `any()` and compares against a scalar
    /// went lane by lane through memory (objdump).
    @inline(__always)
    private static func first(_ m: SIMDMask<SIMD16<Int8>>) -> Int? {
        let w = unsafeBitCast(m, to: SIMD2<UInt64>.self)
        let low = UInt64(littleEndian: w[0]), high = UInt64(littleEndian: w[1])
        if low != 0 { return low.trailingZeroBitCount >> 3 }
        if high != 0 { return 8 + high.trailingZeroBitCount >> 3 }
        return nil
    }

    /// The first index at or after `from` holding `"`, `\` or a control byte (< 0x20), or
    /// `p.count` when there is none: the end of an escape-free JSON string's contents.
    public static func quoteBackslashOrControl(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var j = from
        let n = p.count
        // Sixteen bytes per step with vector compares (long prompts and replies); the words
        // below take the last fifteen bytes.
        let quote = SIMD16<UInt8>(repeating: 0x22), backslash = SIMD16<UInt8>(repeating: 0x5C)
        let space = SIMD16<UInt8>(repeating: 0x20)
        while j + 16 <= n {
            let v = p.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
            if let k = first((v .== quote) .| (v .== backslash) .| (v .< space)) { return j + k }
            j += 16
        }
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

    /// Whether every byte is below 0x80 (sixteen at a time).
    public static func isASCII(_ p: UnsafeRawBufferPointer) -> Bool {
        var j = 0
        let n = p.count
        var acc = SIMD2<UInt64>()
        while j + 16 <= n {
            acc |= p.loadUnaligned(fromByteOffset: j, as: SIMD2<UInt64>.self)
            j += 16
        }
        var tail: UInt8 = 0
        while j < n {
            tail |= p[j]
            j += 1
        }
        return (acc[0] | acc[1]) & highs == 0 && tail < 0x80
    }

    /// The first index at or after `from` holding LF or CR, or `p.count`.
    public static func lineBreak(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var j = from
        let n = p.count
        let lf = SIMD16<UInt8>(repeating: 0x0A), cr = SIMD16<UInt8>(repeating: 0x0D)
        while j + 16 <= n {
            let v = p.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
            if let k = first((v .== lf) .| (v .== cr)) { return j + k }
            j += 16
        }
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
