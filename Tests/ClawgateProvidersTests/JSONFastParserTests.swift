import ClawgateCore
import CJansson
@testable import ClawgateProviders
import Foundation
import Testing

/// `JSONFastParser` may decline anything, but what it accepts must read exactly as jansson
/// reads it: checked on hand-picked documents, on the fixtures, and on thousands of random
/// documents and random mutations of them.
struct JSONFastParserTests {
    /// jansson's reading, or nil when jansson refuses the bytes.
    static func jansson(_ b: [UInt8]) -> JSONValue? {
        b.withUnsafeBytes { raw in
            var message = ""
            guard let j = Jansson.load(raw, error: &message) else { return nil }
            defer { json_decref(j) }
            return Jansson.value(of: j)
        }
    }

    static func fast(_ b: [UInt8]) -> JSONValue? { b.withUnsafeBytes { JSONFastParser.parse($0) } }

    /// Fast accepts ⇒ jansson accepts and reads the same value.
    static func agree(_ b: [UInt8]) -> Bool {
        guard let f = fast(b) else { return true }
        return jansson(b) == f
    }

    @Test(arguments: [
        #"{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":true,"temperature":0.7}"#,
        #"  [1, -2, 3.5, -0, 0.25e2, 1E-3, 123456789012345678, true, false, null, "", {}, []]  "#,
        #"{"a":"tab\tquote\"slash\/back\\nl\nuni\u00e9\ud83c\udf0d nul\u0000"}"#,
        #"{"dup":1,"dup":2}"#, #""just a string""#, "42", "héllo 🌍 in \"quotes\"".debugDescription,
    ])
    func acceptsCommonDocumentsAndReadsThemAsJanssonDoes(text: String) {
        let b = Array(text.utf8)
        #expect(Self.fast(b) != Optional<JSONValue>.none, "declined: \(text)")
        #expect(Self.agree(b), "disagrees: \(text)")
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        "\"unterminated", "\"bad \\q escape\"", "\"lone \\ud800\"", "\"lone \\udc00 low\"", "\"ctrl \u{01}\"",
        "[1] x", "1234567890123456789", "1e400", "\u{FEFF}{}",
    ])
    func declinesWhatItIsNotSureOf(text: String) {
        #expect(Self.fast(Array(text.utf8)) == Optional<JSONValue>.none, "accepted: \(text.debugDescription)")
    }

    @Test func declinesInvalidUTF8() {
        for bad: [UInt8] in [[0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22]] {
            #expect(Self.fast(bad) == Optional<JSONValue>.none)
            #expect(Self.jansson(bad) == Optional<JSONValue>.none)
        }
    }

    @Test func declinesDeepNesting() {
        let deep = Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8)
        #expect(Self.fast(deep) == Optional<JSONValue>.none)
        #expect(Self.jansson(deep) != Optional<JSONValue>.none)  // jansson allows it: the slow path will take it
    }

    @Test func readsTheFixturesAsJanssonDoes() throws {
        let url = try #require(Bundle.module.url(forResource: "chat_completion", withExtension: "json", subdirectory: "Fixtures/openai"))
        let b = try [UInt8](Data(contentsOf: url))
        #expect(Self.fast(b) != Optional<JSONValue>.none)
        #expect(Self.agree(b))
    }

    @Test func agreesWithJanssonOnRandomDocumentsAndTheirMutations() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [UInt8] = Array("{}[]\",:\\ -+.eE0123456789abnrtufl\u{7f}".utf8) + [0x00, 0x0A, 0x1F, 0xC3, 0xA9, 0xF0, 0x9F, 0x8C, 0x8D]
        var accepted = 0
        for _ in 0..<3000 {
            var w = JSONWriter()
            w.value(Self.randomValue(depth: 0, &rng))
            let doc = w.bytes
            #expect(Self.fast(doc) != Optional<JSONValue>.none)
            #expect(Self.agree(doc), "disagrees: \(String(decoding: doc, as: UTF8.self))")
            // A few random edits: insert, delete or replace a byte.
            var m = doc
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0...m.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: m.insert(pieces.randomElement(using: &rng)!, at: at)
                case 1: if at < m.count { m.remove(at: at) }
                default: if at < m.count { m[at] = pieces.randomElement(using: &rng)! }
                }
            }
            if Self.fast(m) != Optional<JSONValue>.none { accepted += 1 }
            #expect(Self.agree(m), "disagrees on a mutation: \(m)")
        }
        // The mutations must exercise both outcomes, or the check above proves little.
        #expect(accepted > 100)
    }

    static func randomValue(depth: Int, _ rng: inout SystemRandomNumberGenerator) -> JSONValue {
        let pick = Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)))
        case 3: return .number(Double.random(in: -1e6...1e6, using: &rng))
        case 4:
            let alphabet = Array("abc XYZ\"\\/\n\t\u{0}\u{1f}é🌍\u{2028}")
            return .string(String((0..<Int.random(in: 0..<12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        case 5: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth: depth + 1, &rng) })
        default:
            var o: [String: JSONValue] = [:]
            for k in 0..<Int.random(in: 0..<4, using: &rng) { o["k\(k)"] = randomValue(depth: depth + 1, &rng) }
            return .object(o)
        }
    }
}
