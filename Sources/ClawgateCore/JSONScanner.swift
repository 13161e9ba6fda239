/// A forward-only reader over one JSON text that can step into objects and arrays, read
/// strings, integers and literals, and skip any value without building it. It serves the hot
/// decode path (one provider chunk per token), where only a few fields of each chunk matter.
/// It validates what it reads but is not a full validator: callers fall back to a real parser
/// (jansson) whenever `failed` is set.
public struct JSONScanner: ~Copyable {
    // Inlinable (with the state it touches), so a decoder in another module gets the closure
    // bodies inlined into one loop instead of a call through a context per member.
    @usableFromInline let p: UnsafeRawBufferPointer
    @usableFromInline var i = 0
    @usableFromInline var _failed = false
    @inlinable public var failed: Bool { _failed }

    @inlinable public init(_ bytes: UnsafeRawBufferPointer) { p = bytes }

    /// The byte offset where the next value starts (after whitespace).
    @inlinable public var offset: Int { i }

    public enum Kind { case object, array, string, number, bool, null, invalid }

    @inlinable mutating func ws() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
    }

    @inlinable public mutating func peek() -> Kind {
        ws()
        guard i < p.count else { return .invalid }
        switch p[i] {
        case 0x7B: return .object
        case 0x5B: return .array
        case 0x22: return .string
        case 0x74, 0x66: return .bool
        case 0x6E: return .null
        case 0x2D, 0x30...0x39: return .number
        default: return .invalid
        }
    }

    @inlinable mutating func fail() -> Bool {
        _failed = true
        i = p.count
        return false
    }

    @inlinable mutating func expect(_ c: UInt8) -> Bool {
        ws()
        guard i < p.count, p[i] == c else { return fail() }
        i += 1
        return true
    }

    // MARK: - containers

    /// Iterates an object's members: `body(key)` reads or skips the value (left alone, it is
    /// skipped).
    @inlinable public mutating func object(_ body: (inout JSONScanner, UnsafeRawBufferPointer) -> Void) {
        elements(open: 0x7B, close: 0x7D) { s, _ in s.member(body) }
    }

    /// One `"key": value` member.
    @inlinable mutating func member(_ body: (inout JSONScanner, UnsafeRawBufferPointer) -> Void) {
        guard let key = rawString() else {
            _ = fail()
            return
        }
        guard expect(0x3A) else { return }
        value { body(&$0, key) }
    }

    /// Iterates an array's elements: `body(index)` reads or skips the element.
    @inlinable public mutating func array(_ body: (inout JSONScanner, Int) -> Void) {
        elements(open: 0x5B, close: 0x5D) { s, n in s.value { body(&$0, n) } }
    }

    /// Runs `read` on one value, skipping it when `read` consumed nothing.
    @inlinable mutating func value(_ read: (inout JSONScanner) -> Void) {
        let before = i
        read(&self)
        if !failed, i == before { skip() }
    }

    /// Iterates the members of the object that opens the text from `offset` on, where the
    /// bytes before `offset` are the object's `{`, whole members and a comma that an earlier
    /// scan of the same bytes already read (see `RepeatedPrefix`).
    @inlinable public mutating func object(resumingAt offset: Int, _ body: (inout JSONScanner, UnsafeRawBufferPointer) -> Void) {
        i = offset
        members(close: 0x7D, from: 1) { s, _ in s.member(body) }
    }

    /// Where the quoted `key` that `object`'s body was handed begins in the text (its opening
    /// quote).
    @inlinable public func offset(of key: UnsafeRawBufferPointer) -> Int {
        p.baseAddress.map { key.baseAddress! - $0 - 1 } ?? 0
    }

    /// The comma-separated elements between `open` and `close`.
    @inlinable mutating func elements(open: UInt8, close: UInt8, _ each: (inout JSONScanner, Int) -> Void) {
        guard expect(open) else { return }
        ws()
        if i < p.count, p[i] == close {
            i += 1
            return
        }
        members(close: close, from: 0, each)
    }

    /// The elements from the `n`th on, up to and including `close`.
    @inlinable mutating func members(close: UInt8, from first: Int, _ each: (inout JSONScanner, Int) -> Void) {
        var n = first
        while !failed {
            each(&self, n)
            if failed { return }
            n += 1
            ws()
            guard i < p.count else {
                _ = fail()
                return
            }
            if p[i] == 0x2C {
                i += 1
            } else if p[i] == close {
                i += 1
                return
            } else {
                _ = fail()
            }
        }
    }

    // MARK: - scalars

    /// The raw bytes between the quotes of a string with no escapes; nil (not failed) when it
    /// has escapes, which `string()` decodes.
    @inlinable mutating func rawString() -> UnsafeRawBufferPointer? {
        ws()
        guard i < p.count, p[i] == 0x22 else { return nil }
        let start = i + 1
        let j = ByteSearch.quoteBackslashOrControl(p, from: start)
        guard j < p.count, p[j] == 0x22 else { return nil }
        i = j + 1
        return UnsafeRawBufferPointer(rebasing: p[start..<j])
    }

    /// A string value, escapes decoded; nil and `failed` when the value is not a valid string.
    @inlinable public mutating func string() -> String? {
        if let raw = rawString() { return String(decoding: raw, as: UTF8.self) }
        return stringSlow()
    }

    /// `string()` for strings with escapes (or not strings at all).
    @usableFromInline mutating func stringSlow() -> String? {
        ws()
        guard i < p.count, p[i] == 0x22 else {
            _ = fail()
            return nil
        }
        i += 1
        var out: [UInt8] = []
        while i < p.count {
            let c = p[i]
            if c == 0x22 {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { break }
            if c != 0x5C {
                out.append(c)
                i += 1
                continue
            }
            guard let next = JSONEscape.decode(p, at: i, into: &out) else { break }
            i = next
        }
        _ = fail()
        return nil
    }

    /// An integer value (no fraction or exponent); nil and `failed` otherwise.
    @inlinable public mutating func int() -> Int? {
        ws()
        var neg = false
        if i < p.count, p[i] == 0x2D {
            neg = true
            i += 1
        }
        var v = 0
        var digits = 0
        while i < p.count, p[i] >= 0x30, p[i] <= 0x39, digits < 18 {
            v = v * 10 + Int(p[i] - 0x30)
            i += 1
            digits += 1
        }
        if digits == 0 || (i < p.count && (p[i] == 0x2E || p[i] == 0x65 || p[i] == 0x45 || (p[i] >= 0x30 && p[i] <= 0x39))) {
            _ = fail()
            return nil
        }
        return neg ? -v : v
    }

    /// True when the next value is `null` (and consumes it).
    @inlinable public mutating func null() -> Bool {
        ws()
        guard i + 4 <= p.count, p[i] == 0x6E, p[i + 1] == 0x75, p[i + 2] == 0x6C, p[i + 3] == 0x6C else { return false }
        i += 4
        return true
    }

    /// Skips one value of any kind, checking its structure.
    @inlinable public mutating func skip() { skipValue() }

    @usableFromInline mutating func skipValue() {
        switch peek() {
        case .object: object { s, _ in s.skip() }
        case .array: array { s, _ in s.skip() }
        case .string:
            // Most skipped strings (ids, names) have no escapes: step over them without
            // building a String.
            if rawString() == nil { _ = string() }
        case .null: if !null() { _ = fail() }
        case .bool:
            if i + 4 <= p.count, p[i] == 0x74, p[i + 1] == 0x72, p[i + 2] == 0x75, p[i + 3] == 0x65 {
                i += 4
            } else if i + 5 <= p.count, p[i] == 0x66, p[i + 1] == 0x61, p[i + 2] == 0x6C, p[i + 3] == 0x73, p[i + 4] == 0x65 {
                i += 5
            } else {
                _ = fail()
            }
        case .number:
            if i < p.count, p[i] == 0x2D { i += 1 }
            var any = false
            while i < p.count, (p[i] >= 0x30 && p[i] <= 0x39) || p[i] == 0x2E || p[i] == 0x65 || p[i] == 0x45 || p[i] == 0x2B || p[i] == 0x2D {
                i += 1
                any = true
            }
            if !any { _ = fail() }
        case .invalid:
            _ = fail()
        }
    }

    /// True when only whitespace is left.
    @inlinable public mutating func atEnd() -> Bool {
        ws()
        return i == p.count
    }

    /// Compares raw key bytes with a literal.
    @inlinable public static func key(_ k: UnsafeRawBufferPointer, is s: StaticString) -> Bool {
        guard k.count == s.utf8CodeUnitCount else { return false }
        let q = s.utf8Start
        for j in 0..<k.count where k[j] != q[j] { return false }
        return true
    }
}
