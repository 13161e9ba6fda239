import ClawgateCore
import Foundation
import Testing

struct JSONWriterTests {
    @Test(arguments: ["plain", "", "quote \" backslash \\ slash /", "tab\tnew\nline\rcr", "\u{0}\u{1}\u{1f}", "héllo 🌍 \u{2028}"])
    func stringsRoundTripThroughAStandardParser(s: String) throws {
        var w = JSONWriter()
        w.raw("[")
        w.string(s)
        w.raw("]")
        let parsed = try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String]
        #expect(parsed == [s])
    }

    /// Strings of every length around the eight-byte stride, with bytes that need an escape
    /// (and their neighbours) at random positions, escaped exactly as the byte-by-byte rules say.
    @Test func everyByteThatNeedsAnEscapeIsEscapedAtAnyPosition() {
        let alphabet: [UInt8] = [0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F]
        func expected(_ b: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for c in b {
                switch c {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0x0A: out += [0x5C, 0x6E]
                case 0x0D: out += [0x5C, 0x72]
                case 0x09: out += [0x5C, 0x74]
                case 0x08: out += [0x5C, 0x62]
                case 0x0C: out += [0x5C, 0x66]
                case ..<0x20: out += Array(String(format: "\\u%04x", Int(c)).utf8)
                default: out.append(c)
                }
            }
            return out + [0x22]
        }
        var rng = SystemRandomNumberGenerator()
        for length in 0..<40 {
            for _ in 0..<100 {
                let b = (0..<length).map { _ in Int.random(in: 0..<5, using: &rng) == 0 ? alphabet.randomElement(using: &rng)! : 0x61 }
                var w = JSONWriter()
                b.withUnsafeBytes { w.string(utf8: $0) }
                #expect(w.bytes == expected(b), "\(b)")
            }
        }
    }

    @Test(arguments: [0, 7, -7, 42, 1_000_000, Int.max, Int.min + 1])
    func integersAreDecimal(v: Int) {
        var w = JSONWriter()
        w.int(v)
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(v))
    }

    /// The timing fields' fixed-point form must read exactly as the rounded Double's own text
    /// did: JSON through `number`, the header through Swift's description.
    @Test func thousandthsReadAsTheRoundedValueWould() {
        var values: [Double] = [0, -0.0, 0.0004, -0.0004, 0.0005, 0.001, 0.012, 0.1, 0.123456, 0.5, 1, 2.0, 2.05,
                                10.010, 99.9995, 1234.5, 123456.789, -1.5, -0.012, 1e9 + 0.25, 1e13, 4e15]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Double.random(in: 0..<50, using: &g)) }
        for _ in 0..<500 { values.append(Double.random(in: -1e6..<1e6, using: &g)) }
        for d in values {
            let rounded = (d * 1000).rounded() / 1000
            var fixed = JSONWriter(), reference = JSONWriter()
            fixed.thousandths(d)
            reference.number(rounded)
            #expect(fixed.bytes == reference.bytes, "\(d): \(String(decoding: fixed.bytes, as: UTF8.self))")
            var header = JSONWriter()
            header.thousandths(d, wholeAsDecimal: true)
            #expect(String(decoding: header.bytes, as: UTF8.self) == "\(rounded)", "\(d)")
        }
    }

    @Test(arguments: [(0.0, "0"), (2.0, "2"), (-3.0, "-3"), (0.7, "0.7"), (1e-7, "1e-07"), (123.25, "123.25"),
                      (1e20, "1e+20"), (Double.nan, "null"), (Double.infinity, "null")])
    func numbersAreIntegersWhenWholeAndShortestOtherwise(v: Double, expected: String) {
        var w = JSONWriter()
        w.number(v)
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected)
    }

    @Test func anyValueRoundTripsThroughAStandardParser() throws {
        let v: JSONValue = ["messages": [["role": "user", "content": "a \"quoted\"\nline"], ["content": .null]],
                            "n": 0.5, "ok": true, "off": false, "list": [1, 2.5, "x", [], [:]]]
        var w = JSONWriter()
        w.value(v)
        let parsed = try JSONSerialization.jsonObject(with: Data(w.bytes)) as? NSDictionary
        let expected = try JSONSerialization.jsonObject(with: Data(#"{"messages":[{"role":"user","content":"a \"quoted\"\nline"},{"content":null}],"n":0.5,"ok":true,"off":false,"list":[1,2.5,"x",[],{}]}"#.utf8)) as? NSDictionary
        #expect(parsed != nil)
        #expect(parsed == expected)
    }

    @Test func headroomIsLeftZeroedInFront() {
        var w = JSONWriter(headroom: 16)
        w.raw("{}")
        #expect(w.bytes.count == 18)
        #expect(w.bytes.prefix(16).allSatisfy { $0 == 0 })
    }

    @Test func membersFollowAnOpenedObject() throws {
        var w = JSONWriter()
        w.raw("{\"a\":1")
        w.member("b")
        w.string("x")
        w.member("c")
        w.number(0.5)
        w.raw("}")
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":1,"b":"x","c":0.5}"#)
    }
}

struct JSONScannerTests {
    private func scan<T>(_ text: String, _ body: (inout JSONScanner) -> T) -> (T, failed: Bool) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            var s = JSONScanner(raw)
            let v = body(&s)
            return (v, s.failed)
        }
    }

    @Test func readsNestedFieldsAndSkipsTheRest() {
        let text = #"{"id":"x","n":[1,2.5e3,{"a":null}],"choices":[{"delta":{"content":"hi \"you\" \u00e9\ud83c\udf0d"},"finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#
        let ((content, prompt, completion), failed) = scan(text) { s -> (String?, Int?, Int?) in
            var content: String?
            var prompt: Int?
            var completion: Int?
            s.object { s, key in
                if JSONScanner.key(key, is: "choices") {
                    s.array { s, _ in
                        s.object { s, k in
                            if JSONScanner.key(k, is: "delta") {
                                s.object { s, dk in if JSONScanner.key(dk, is: "content") { content = s.string() } }
                            }
                        }
                    }
                } else if JSONScanner.key(key, is: "usage") {
                    s.object { s, k in
                        if JSONScanner.key(k, is: "prompt_tokens") { prompt = s.int() }
                        if JSONScanner.key(k, is: "completion_tokens") { completion = s.int() }
                    }
                }
            }
            let end = s.atEnd()
            #expect(end)
            return (content, prompt, completion)
        }
        #expect(!failed)
        #expect(content == "hi \"you\" é🌍")
        #expect(prompt == 3)
        #expect(completion == 5)
    }

    @Test(arguments: [#"{"a":}"#, #"{"a":1"#, #"{"a" 1}"#, #"[1,]x"#, #"{"a":"unterminated}"#, #"{"a":tru}"#, #"{"a":"\ud800"}"#, #"{"a":"bad \q"}"#])
    func malformedInputSetsFailed(text: String) {
        let (_, failed) = scan(text) { s -> Bool in
            s.skip()
            return s.atEnd()
        }
        let (end, _) = scan(text) { s -> Bool in
            s.skip()
            return s.atEnd() && !s.failed
        }
        #expect(failed || !end, "\(text)")
    }

    /// Resuming after a prefix reads the members after it exactly as a whole scan does, and the
    /// offset handed back for a key is its opening quote (what a `RepeatedPrefix` keeps).
    @Test func resumingAfterAKeyOffsetReadsTheSameMembers() {
        let text = #"{"id":"chatcmpl-1","created":17, "n" : [1,{"a":"}"}],  "choices":[{"t":"x"}],"usage":{"k":2},"z":null}"#
        func read(_ s: inout JSONScanner, _ key: UnsafeRawBufferPointer, into seen: inout [String]) {
            seen.append(String(decoding: key, as: UTF8.self))
            if JSONScanner.key(key, is: "usage") { s.object { s, _ in seen.append("\(s.int() ?? -1)") } }
        }
        let ((whole, at), failedWhole) = scan(text) { s -> ([String], Int) in
            var seen: [String] = []
            var at = -1
            s.object { s, key in
                if at < 0, JSONScanner.key(key, is: "choices") { at = s.offset(of: key) }
                read(&s, key, into: &seen)
            }
            let end = s.atEnd()
            #expect(end)
            return (seen, at)
        }
        #expect(!failedWhole)
        #expect(Array(text.utf8)[at] == 0x22)
        #expect(text.utf8.dropFirst(at).starts(with: #""choices""#.utf8))
        let (resumed, failedResumed) = scan(text) { s -> [String] in
            var seen: [String] = []
            s.object(resumingAt: at) { s, key in read(&s, key, into: &seen) }
            let end = s.atEnd()
            #expect(end)
            return seen
        }
        #expect(!failedResumed)
        #expect(whole == ["id", "created", "n", "choices", "usage", "2", "z"])
        #expect(resumed == ["choices", "usage", "2", "z"])
        // A resumed scan still checks what it reads.
        let (_, failedBroken) = scan(#"{"id":"x","choices":[}"#) { s -> Void in
            s.object(resumingAt: 10) { _, _ in }
        }
        #expect(failedBroken)
    }

    @Test func integersRefuseFractions() {
        let (v, failed) = scan("2.5") { $0.int() }
        #expect(v == nil)
        #expect(failed)
    }
}

struct ByteSearchTests {
    private func naive(_ b: [UInt8], from: Int, _ hit: (UInt8) -> Bool) -> Int {
        var j = from
        while j < b.count, !hit(b[j]) { j += 1 }
        return j
    }

    /// Every position of every match, in buffers of every length around the 8- and 16-byte
    /// strides, with bytes chosen to sit next to the searched values (0x1F/0x20, 0x21/0x23,
    /// 0x5B/0x5D, 0x80+).
    @Test func findsTheSameFirstByteAsAPlainLoop() {
        let alphabet: [UInt8] = [0x41, 0x20, 0x1F, 0x00, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x0A, 0x0B, 0x0D, 0x0C, 0x7F, 0x80, 0xA2, 0xDC, 0xFF]
        var rng = SystemRandomNumberGenerator()
        for length in 0..<56 {
            for _ in 0..<200 {
                // Mostly a harmless byte, so matches land anywhere, including past the first word.
                let b = (0..<length).map { _ in Int.random(in: 0..<4, using: &rng) == 0 ? alphabet.randomElement(using: &rng)! : 0x61 }
                let from = length == 0 ? 0 : Int.random(in: 0...length, using: &rng)
                b.withUnsafeBytes { p in
                    #expect(ByteSearch.quoteBackslashOrControl(p, from: from) == naive(b, from: from) { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 })
                    #expect(ByteSearch.lineBreak(p, from: from) == naive(b, from: from) { $0 == 0x0A || $0 == 0x0D })
                    #expect(ByteSearch.isASCII(p) == b.allSatisfy { $0 < 0x80 })
                }
            }
        }
    }
}

struct RepeatedPrefixTests {
    private func match(_ p: RepeatedPrefix, _ text: String) -> Int? {
        Array(text.utf8).withUnsafeBytes { p.match($0) }
    }

    private func remembered(_ text: String, length: Int) -> RepeatedPrefix {
        var p = RepeatedPrefix()
        Array(text.utf8).withUnsafeBytes { p.remember($0, length: length) }
        return p
    }

    @Test func matchesOnlyTheSameLeadingBytesWithMoreAfterThem() {
        let first = #"{"id":"chatcmpl-1","object":"chunk","created":17,"choices":[]}"#
        // The opening quote of "created": 36 bytes, past the eight-byte words into a tail.
        let at = first.utf8.count - #""created":17,"choices":[]}"#.utf8.count
        #expect(at % 8 != 0)
        let p = remembered(first, length: at)
        #expect(p.count == at)
        #expect(match(p, first) == at)
        #expect(match(p, String(first.prefix(at)) + #""choices":[1]}"#) == at)
        // Exactly the prefix and nothing after it: nothing to resume.
        #expect(match(p, String(first.prefix(at))) == nil)
        #expect(match(p, "{") == nil)
        // A difference at any position, in the eight-byte words or in the tail, is a miss.
        for i in 0..<at {
            var b = Array(first.utf8)
            b[i] ^= 0x01
            #expect(b.withUnsafeBytes { p.match($0) } == nil, "position \(i)")
        }
    }

    @Test func nothingRememberedBelowTheMinimumOrPastTheEnd() {
        let text = #"{"id":"chatcmpl-1","object":"chunk","choices":[]}"#
        #expect(remembered(text, length: RepeatedPrefix.minimumLength - 1).count == 0)
        #expect(remembered(text, length: -1).count == 0)
        #expect(remembered(text, length: text.utf8.count + 1).count == 0)
        var p = remembered(text, length: 30)
        #expect(p.count == 30)
        // Remembering something too short forgets the old prefix.
        Array(text.utf8).withUnsafeBytes { p.remember($0, length: 2) }
        #expect(p.count == 0)
        #expect(match(RepeatedPrefix(), text) == nil)
    }
}
