/// The escapes of a JSON string (RFC 8259 section 7), decoded one at a time: shared by the
/// scanner's slow path and the fast reader, so both accept and refuse exactly the same ones.
enum JSONEscape {
    /// Decodes the escape whose backslash is at `k`, appending its UTF-8 to `out`. Returns the
    /// index just after it, or nil for an unknown escape, a bad `\u` or a lone surrogate.
    static func decode(_ p: UnsafeRawBufferPointer, at k: Int, into out: inout [UInt8]) -> Int? {
        guard k + 1 < p.count else { return nil }
        var j = k + 2
        switch p[k + 1] {
        case 0x22: out.append(0x22)
        case 0x5C: out.append(0x5C)
        case 0x2F: out.append(0x2F)
        case 0x62: out.append(0x08)
        case 0x66: out.append(0x0C)
        case 0x6E: out.append(0x0A)
        case 0x72: out.append(0x0D)
        case 0x74: out.append(0x09)
        case 0x75:
            guard var scalar = hex4(p, at: j) else { return nil }
            j += 4
            if (0xD800...0xDBFF).contains(scalar) {
                guard j + 6 <= p.count, p[j] == 0x5C, p[j + 1] == 0x75,
                      let low = hex4(p, at: j + 2), (0xDC00...0xDFFF).contains(low) else { return nil }
                j += 6
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                return nil
            }
            guard let u = Unicode.Scalar(scalar) else { return nil }
            UTF8.encode(u) { out.append($0) }
        default:
            return nil
        }
        return j
    }

    /// Four hex digits at `k`, or nil.
    static func hex4(_ p: UnsafeRawBufferPointer, at k: Int) -> UInt32? {
        guard k + 4 <= p.count else { return nil }
        var v: UInt32 = 0
        for c in UnsafeRawBufferPointer(rebasing: p[k..<k + 4]) {
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }
}
