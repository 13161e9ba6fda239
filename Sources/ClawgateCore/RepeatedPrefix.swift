/// The leading bytes that a provider repeats in every event of one stream — OpenAI's `id`,
/// `object`, `created`, `model` and `system_fingerprint` come before `choices` in each chunk,
/// byte for byte the same — remembered so that the next event that starts with the same bytes
/// is read from where its first member of interest begins. Reading those members again would
/// only skip them: about 2,500 instructions of an OpenAI chunk's ~4,400 (callgrind).
///
/// Equal bytes scan the same way, so resuming after them is exact; a prefix that changes
/// mid-stream simply misses and is remembered anew.
public struct RepeatedPrefix {
    private var bytes: [UInt8] = []

    /// Shorter prefixes are not worth remembering: comparing costs about what skipping would.
    public static let minimumLength = 24

    public init() {}

    /// The length of the remembered prefix (0: nothing remembered).
    public var count: Int { bytes.count }

    /// The offset to resume reading `data` at, when `data` starts with the remembered prefix
    /// and has more after it.
    public func match(_ data: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        guard n > 0, data.count > n else { return nil }
        return bytes.withUnsafeBytes { mine -> Int? in
            // Eight bytes at a time: the prefix is a hundred or more bytes, compared per event.
            var j = 0
            while j + 8 <= n {
                if mine.loadUnaligned(fromByteOffset: j, as: UInt64.self) != data.loadUnaligned(fromByteOffset: j, as: UInt64.self) {
                    return nil
                }
                j += 8
            }
            while j < n {
                if mine[j] != data[j] { return nil }
                j += 1
            }
            return n
        }
    }

    /// Remembers `data[0..<length]` (a no-op below `minimumLength`).
    public mutating func remember(_ data: UnsafeRawBufferPointer, length: Int) {
        bytes.removeAll(keepingCapacity: true)
        guard length >= Self.minimumLength, length <= data.count else { return }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[0..<length]))
    }
}
