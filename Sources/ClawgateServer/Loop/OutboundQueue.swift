import CLws
import DequeModule

/// Bytes ready to write, each buffer prefixed by `CLWS_PRE` bytes of headroom for lws's frame
/// header. Bounded by the callers: above `highWaterBytes` upstream transfers are paused.
struct OutboundQueue {
    private var items: Deque<[UInt8]> = []
    private(set) var pendingBytes = 0

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func append(_ buffer: [UInt8]) {
        pendingBytes += buffer.count - Int(CLWS_PRE)
        items.append(buffer)
    }

    /// The buffer `i` places behind the first.
    subscript(i: Int) -> [UInt8] { items[i] }

    mutating func popFirst() -> [UInt8]? {
        guard let b = items.popFirst() else { return nil }
        pendingBytes -= b.count - Int(CLWS_PRE)
        return b
    }

    mutating func removeAll() {
        items.removeAll()
        pendingBytes = 0
    }
}

/// Writes one prepared buffer (with headroom) to a wsi. Returns false when lws reports a
/// fatal error: lws copies any part the kernel did not take, so a short count means failure.
func lwsWrite(_ wsi: OpaquePointer, _ buffer: inout [UInt8], _ mode: lws_write_protocol) -> Bool {
    let pre = Int(CLWS_PRE)
    let len = buffer.count - pre
    let n = buffer.withUnsafeMutableBytes { raw -> Int32 in
        lws_write(wsi, raw.baseAddress!.advanced(by: pre).assumingMemoryBound(to: UInt8.self), len, mode)
    }
    return Int(n) >= len
}

/// A byte array with lws headroom followed by `payload`.
func framed(_ payload: some Sequence<UInt8>) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: Int(CLWS_PRE))
    b.append(contentsOf: payload)
    return b
}
