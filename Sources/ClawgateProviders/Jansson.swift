import CJansson
import ClawgateCore

/// Conversions between jansson values and the core's `JSONValue`, and small typed readers.
/// Kept in one place so every wire format reads JSON the same way.
public enum Jansson {
    /// Parses bytes into a new jansson value (caller owns the reference), or nil when the bytes
    /// are not one JSON value. `error` receives jansson's message with line and column.
    public static func load(_ bytes: UnsafeRawBufferPointer, error: inout String) -> UnsafeMutablePointer<json_t>? {
        var err = json_error_t()
        guard let base = bytes.baseAddress else {
            error = "empty body"
            return nil
        }
        let v = json_loadb(base.assumingMemoryBound(to: CChar.self), bytes.count, Int(JSON_DECODE_ANY | JSON_ALLOW_NUL), &err)
        if v == nil {
            let text = withUnsafeBytes(of: &err.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            error = "\(text) at line \(err.line), column \(err.column)"
        }
        return v
    }

    /// Parses bytes straight into a `JSONValue`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<JSONValue, GatewayError> {
        // The common, well-formed document is read directly; jansson judges everything else.
        if let v = JSONFastParser.parse(bytes) { return .success(v) }
        var message = ""
        guard let j = load(bytes, error: &message) else {
            return .failure(.badRequest("not valid JSON: \(message)"))
        }
        defer { json_decref(j) }
        return .success(value(of: j))
    }

    public static func parse(_ bytes: [UInt8]) -> Result<JSONValue, GatewayError> {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// The `JSONValue` of a jansson value (borrowed).
    public static func value(of j: UnsafeMutablePointer<json_t>) -> JSONValue {
        switch j.pointee.type {
        case JSON_OBJECT:
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(json_object_size(j))
            var it = json_object_iter(j)
            while let iter = it {
                let key = String(cString: json_object_iter_key(iter))
                if let child = json_object_iter_value(iter) { out[key] = value(of: child) }
                it = json_object_iter_next(j, iter)
            }
            return .object(out)
        case JSON_ARRAY:
            let n = json_array_size(j)
            var out: [JSONValue] = []
            out.reserveCapacity(n)
            for i in 0..<n {
                if let child = json_array_get(j, i) { out.append(value(of: child)) }
            }
            return .array(out)
        case JSON_STRING:
            return .string(string(j) ?? "")
        case JSON_INTEGER:
            return .number(Double(json_integer_value(j)))
        case JSON_REAL:
            return .number(json_real_value(j))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }

    /// A new jansson value (caller owns the reference) for a `JSONValue`.
    public static func make(_ v: JSONValue) -> UnsafeMutablePointer<json_t> {
        switch v {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .number(let d):
            if d.rounded() == d, abs(d) < 9.0e15 { return json_integer(json_int_t(d)) }
            return json_real(d)
        case .string(let s): return makeString(s)
        case .array(let a):
            let arr = json_array()!
            for e in a { json_array_append_new(arr, make(e)) }
            return arr
        case .object(let o):
            let obj = json_object()!
            for (k, e) in o { json_object_set_new(obj, k, make(e)) }
            return obj
        }
    }

    /// A jansson string holding exactly the UTF-8 of `s` (NULs included).
    public static func makeString(_ s: String) -> UnsafeMutablePointer<json_t> {
        var s = s
        return s.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { b -> UnsafeMutablePointer<json_t> in
                if let base = b.baseAddress { return json_stringn_nocheck(base, b.count) }
                return json_string("")
            }
        }
    }

    /// The Swift string of a jansson string value, or nil for any other type.
    public static func string(_ j: UnsafeMutablePointer<json_t>?) -> String? {
        guard let j, j.pointee.type == JSON_STRING, let p = json_string_value(j) else { return nil }
        let n = json_string_length(j)
        return p.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
    }

    public static func int(_ j: UnsafeMutablePointer<json_t>?) -> Int? {
        guard let j else { return nil }
        switch j.pointee.type {
        case JSON_INTEGER: return Int(json_integer_value(j))
        case JSON_REAL: return Int(json_real_value(j))
        default: return nil
        }
    }

    /// Serialises compactly into a fresh byte array with `headroom` zero bytes in front (the
    /// room lws needs for its frame header), so the result can be written without a copy.
    public static func dump(_ j: UnsafeMutablePointer<json_t>, headroom: Int = 0) -> [UInt8] {
        let flags = Int(JSON_COMPACT | JSON_ENCODE_ANY)
        // Large enough that nearly every document is serialised once, not measured then redone.
        var capacity = 2048
        while true {
            var out = [UInt8](repeating: 0, count: headroom + capacity)
            let needed = out.withUnsafeMutableBytes { raw -> Int in
                json_dumpb(j, raw.baseAddress!.advanced(by: headroom).assumingMemoryBound(to: CChar.self), capacity, flags)
            }
            if needed <= capacity {
                out.removeLast(capacity - needed)
                return out
            }
            capacity = needed
        }
    }
}

/// Builds a jansson object field by field; `finish` hands the reference to the caller.
public struct JanssonObject {
    public let raw: UnsafeMutablePointer<json_t>

    public init() { raw = json_object() }

    public func set(_ key: String, _ value: String) { json_object_set_new(raw, key, Jansson.makeString(value)) }
    public func set(_ key: String, _ value: Int) { json_object_set_new(raw, key, json_integer(json_int_t(value))) }
    public func set(_ key: String, _ value: Double) { json_object_set_new(raw, key, json_real(value)) }
    public func set(_ key: String, _ value: Bool) { json_object_set_new(raw, key, value ? json_true() : json_false()) }
    public func set(_ key: String, _ value: JSONValue) { json_object_set_new(raw, key, Jansson.make(value)) }
    public func setNull(_ key: String) { json_object_set_new(raw, key, json_null()) }
    /// Takes ownership of `value`.
    public func set(_ key: String, owned value: UnsafeMutablePointer<json_t>) { json_object_set_new(raw, key, value) }

    public func dump(headroom: Int = 0) -> [UInt8] {
        defer { json_decref(raw) }
        return Jansson.dump(raw, headroom: headroom)
    }
}
