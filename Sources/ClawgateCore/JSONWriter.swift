/// Appends JSON text straight into a byte buffer. Used for the documents the gateway writes on
/// every request — `delta` frames, SSE chunks, the upstream request body, a non-streamed
/// completion — where building a jansson object and dumping it cost more than the rest of the
/// relay (callgrind: 13 % of a non-streamed request was `json_dumpb`). Jansson stays the
/// parser and validator of everything that comes in.
public struct JSONWriter {
    public var bytes: [UInt8]

    /// Lower-case hex digits, for `\u00XX` escapes and HTTP chunk sizes.
    public static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Starts with `headroom` zero bytes reserved in front (lws writes its frame header there).
    public init(headroom: Int = 0, capacity: Int = 128) {
        // Reserved first, then zeroed: one allocation, not one for the headroom and another
        // when the capacity is reserved.
        bytes = []
        bytes.reserveCapacity(headroom + capacity)
        bytes.append(contentsOf: repeatElement(0, count: headroom))
    }

    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// Text known to need no escaping (HTTP head fields), appended as is.
    public mutating func raw(text s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// `,"name":`: the next member of an object already opened.
    public mutating func member(_ name: StaticString) {
        bytes.append(0x2C)
        bytes.append(0x22)
        raw(name)
        bytes.append(0x22)
        bytes.append(0x3A)
    }

    public mutating func null() { raw("null") }

    public mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    /// Whole numbers as integers (as jansson's `json_integer` would write them), anything else
    /// in Swift's shortest round-trip form (`0.7`, not `0.69999999999999996`). JSON has no
    /// infinity or NaN; they are written as null.
    public mutating func number(_ d: Double) {
        if d.rounded() == d, abs(d) < 9.0e15 {
            int(Int(d))
        } else if d.isFinite {
            bytes.append(contentsOf: d.description.utf8)
        } else {
            null()
        }
    }

    /// `d` rounded to the thousandth — the timing fields, in milliseconds to the microsecond —
    /// written as `number` writes that rounded value (`12`, `0.012`, `1234.5`) but in fixed
    /// point: Double's shortest-form printer costs ~1,000 instructions a number, and a `done`
    /// frame carries three. With `wholeAsDecimal`, a whole value keeps its `.0`, as Swift's
    /// description does (`2.0`: the `x-clawgate-overhead-ms` header's form).
    public mutating func thousandths(_ d: Double, wholeAsDecimal: Bool = false) {
        let r = (d * 1000).rounded()
        guard r.isFinite, abs(r) < 9.0e15 else {
            if wholeAsDecimal { bytes.append(contentsOf: (r / 1000).description.utf8) } else { number(r / 1000) }
            return
        }
        let k = Int(r)
        if k == 0 {
            if r.sign == .minus { raw(wholeAsDecimal ? "-0.0" : "0") } else { raw(wholeAsDecimal ? "0.0" : "0") }
            return
        }
        if k < 0 { bytes.append(0x2D) }
        int(Int(k.magnitude / 1000))
        var fraction = Int(k.magnitude % 1000)
        if fraction == 0 {
            if wholeAsDecimal { raw(".0") }
            return
        }
        var width = 3
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        bytes.append(0x2E)
        var scale = width == 3 ? 100 : width == 2 ? 10 : 1
        while scale > 0 {
            bytes.append(0x30 + UInt8(fraction / scale % 10))
            scale /= 10
        }
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let d): number(d)
        case .string(let s): string(s)
        case .array(let a):
            bytes.append(0x5B)
            for (i, e) in a.enumerated() {
                if i > 0 { bytes.append(0x2C) }
                value(e)
            }
            bytes.append(0x5D)
        case .object(let o):
            bytes.append(0x7B)
            var first = true
            for (k, e) in o {
                if !first { bytes.append(0x2C) }
                first = false
                string(k)
                bytes.append(0x3A)
                value(e)
            }
            bytes.append(0x7D)
        }
    }

    public mutating func int(_ v: Int) {
        if v == 0 {
            bytes.append(0x30)
            return
        }
        var n = v.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 {
                d[count] = 0x30 + UInt8(n % 10)
                n /= 10
                count += 1
            }
            if v < 0 { bytes.append(0x2D) }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    /// A JSON string literal (quotes included) of `s`, escaping what RFC 8259 requires.
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(utf8: UnsafeRawBufferPointer($0)) }
    }

    public mutating func string(utf8 u: UnsafeRawBufferPointer) {
        bytes.append(0x22)
        var start = 0
        // Eight bytes at a time to the next byte that needs an escape: prompts and replies are
        // long runs of plain text (a byte-at-a-time loop was ~5 instructions per byte).
        var i = ByteSearch.quoteBackslashOrControl(u, from: 0)
        while i < u.count {
            let c = u[i]
            if start < i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: u[start..<i])) }
            start = i + 1
            bytes.append(0x5C)
            switch c {
            case 0x22: bytes.append(0x22)
            case 0x5C: bytes.append(0x5C)
            case 0x0A: bytes.append(0x6E)
            case 0x0D: bytes.append(0x72)
            case 0x09: bytes.append(0x74)
            case 0x08: bytes.append(0x62)
            case 0x0C: bytes.append(0x66)
            default:
                bytes.append(contentsOf: [0x75, 0x30, 0x30, Self.hexDigits[Int(c >> 4)], Self.hexDigits[Int(c & 0xF)]])
            }
            i = ByteSearch.quoteBackslashOrControl(u, from: start)
        }
        if start < u.count { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: u[start..<u.count])) }
        bytes.append(0x22)
    }
}
