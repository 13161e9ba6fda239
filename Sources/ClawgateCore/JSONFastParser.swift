/// Reads a JSON document straight into a `JSONValue` — the client's request body or frame —
/// without building a jansson tree first and converting it (callgrind: a third of a small
/// request's own cost). It is strict and modest: it returns nil for anything it is not sure
/// of (escapes it does not know, integers over 18 digits, nesting deeper than 64, invalid
/// UTF-8, any syntax error), and the caller then asks jansson, which stays the authority on
/// what is valid and says where a document broke. A document it does accept reads exactly as
/// jansson (with `JSON_DECODE_ANY | JSON_ALLOW_NUL`) would read it; a differential test checks.
public enum JSONFastParser {
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        var r = Reader(p: bytes)
        guard let v = r.value(depth: 0) else { return nil }
        r.skipSpace()
        // (Not a ternary: JSONValue is nil-literal-convertible, so `v : nil` would be `.null`.)
        guard r.i == bytes.count else { return nil }
        return v
    }

    private struct Reader {
        let p: UnsafeRawBufferPointer
        var i = 0

        mutating func skipSpace() {
            while i < p.count {
                let c = p[i]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                i += 1
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            skipSpace()
            guard i < p.count, depth < 64 else { return nil }
            switch p[i] {
            case 0x7B: return object(depth: depth)
            case 0x5B: return array(depth: depth)
            case 0x22: return string().map { .string($0) }
            case 0x74:
                guard literal("true") else { return nil }
                return .bool(true)
            case 0x66:
                guard literal("false") else { return nil }
                return .bool(false)
            case 0x6E:
                guard literal("null") else { return nil }
                return .null
            default: return number()
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            i += 1
            skipSpace()
            if i < p.count, p[i] == 0x7D {
                i += 1
                return .object([:])
            }
            // Sized for the usual handful of members: growing from empty rehashed every
            // request's objects twice.
            var o = [String: JSONValue](minimumCapacity: 8)
            while true {
                skipSpace()
                guard i < p.count, p[i] == 0x22, let key = string() else { return nil }
                skipSpace()
                guard i < p.count, p[i] == 0x3A else { return nil }
                i += 1
                guard let v = value(depth: depth + 1) else { return nil }
                o[key] = v  // a repeated key: the last one wins, as in jansson
                skipSpace()
                guard i < p.count else { return nil }
                if p[i] == 0x2C {
                    i += 1
                } else if p[i] == 0x7D {
                    i += 1
                    return .object(o)
                } else {
                    return nil
                }
            }
        }

        mutating func array(depth: Int) -> JSONValue? {
            i += 1
            var a: [JSONValue] = []
            a.reserveCapacity(4)
            skipSpace()
            if i < p.count, p[i] == 0x5D {
                i += 1
                return .array(a)
            }
            while true {
                guard let v = value(depth: depth + 1) else { return nil }
                a.append(v)
                skipSpace()
                guard i < p.count else { return nil }
                if p[i] == 0x2C {
                    i += 1
                } else if p[i] == 0x5D {
                    i += 1
                    return .array(a)
                } else {
                    return nil
                }
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= p.count else { return false }
            for k in 0..<n where p[i + k] != word.utf8Start[k] { return false }
            i += n
            return true
        }

        /// At the opening quote.
        mutating func string() -> String? {
            let start = i + 1
            var j = ByteSearch.quoteBackslashOrControl(p, from: start)
            guard j < p.count else { return nil }
            if p[j] == 0x22 {
                i = j + 1
                return Self.text(UnsafeRawBufferPointer(rebasing: p[start..<j]))
            }
            var out: [UInt8] = []
            out.reserveCapacity(j - start + 16)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[start..<j]))
            while j < p.count {
                let c = p[j]
                if c == 0x22 {
                    i = j + 1
                    return out.withUnsafeBytes { Self.text($0) }
                }
                if c < 0x20 { return nil }
                if c != 0x5C {
                    let next = ByteSearch.quoteBackslashOrControl(p, from: j)
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[j..<next]))
                    j = next
                    continue
                }
                guard let next = JSONEscape.decode(p, at: j, into: &out) else { return nil }
                j = next
            }
            return nil
        }

        /// UTF-8 bytes as a String, or nil when they are not valid UTF-8 (jansson refuses those).
        static func text(_ b: UnsafeRawBufferPointer) -> String? {
            if ByteSearch.isASCII(b) { return String(decoding: b, as: UTF8.self) }
            return String(validating: b, as: UTF8.self)
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() -> JSONValue? {
            let start = i
            var k = i
            if k < p.count, p[k] == 0x2D { k += 1 }
            guard k < p.count, p[k] >= 0x30, p[k] <= 0x39 else { return nil }
            if p[k] == 0x30 {
                k += 1
            } else {
                while k < p.count, p[k] >= 0x30, p[k] <= 0x39 { k += 1 }
            }
            var integral = true
            if k < p.count, p[k] == 0x2E {
                integral = false
                k += 1
                let digits = k
                while k < p.count, p[k] >= 0x30, p[k] <= 0x39 { k += 1 }
                guard k > digits else { return nil }
            }
            if k < p.count, p[k] == 0x65 || p[k] == 0x45 {
                integral = false
                k += 1
                if k < p.count, p[k] == 0x2B || p[k] == 0x2D { k += 1 }
                let digits = k
                while k < p.count, p[k] >= 0x30, p[k] <= 0x39 { k += 1 }
                guard k > digits else { return nil }
            }
            let token = UnsafeRawBufferPointer(rebasing: p[start..<k])
            i = k
            if integral {
                // jansson keeps integers as 64-bit: up to 18 digits always fit; longer ones are
                // left to it (it refuses what overflows).
                let negative = token[0] == 0x2D
                let digits = negative ? token.count - 1 : token.count
                guard digits <= 18 else { return nil }
                var v = 0
                for c in token where c != 0x2D { v = v * 10 + Int(c - 0x30) }
                return .number(Double(negative ? -v : v))
            }
            guard let d = Double(String(decoding: token, as: UTF8.self)), d.isFinite else { return nil }
            return .number(d)
        }
    }
}
