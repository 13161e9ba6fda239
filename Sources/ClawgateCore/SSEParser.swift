/// One server-sent event: its `event:` name, when it had one, and its `data:` lines joined by
/// newlines.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var data: [UInt8]

    public init(event: String? = nil, data: [UInt8]) {
        self.event = event
        self.data = data
    }

    public var dataString: String { String(decoding: data, as: UTF8.self) }
}

/// An incremental parser for `text/event-stream` (the WHATWG rules): bytes may arrive split at
/// any point, lines end with LF, CRLF or CR, `:` starts a comment, and a blank line dispatches
/// the event. An event left incomplete at end of stream is dropped, as the spec says.
public struct SSEParser {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    /// The event's only data line so far, still inside the caller's buffer (valid during one
    /// `feedRaw` call): dispatched from there without a copy, the common case.
    private var inPlace: UnsafeRawBufferPointer?
    private var eventName: String?
    /// A CR ended the previous chunk: an LF at the start of the next one belongs to it.
    private var skipLeadingLF = false

    public init() {}

    /// True while part of an event has been received but not yet dispatched.
    public var hasPartialEvent: Bool { hasData || !line.isEmpty || eventName != nil }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onEvent: (SSEEvent) -> Void) {
        feedRaw(bytes) { name, data in onEvent(SSEEvent(event: name, data: Array(data))) }
    }

    public mutating func feed(_ bytes: [UInt8], _ onEvent: (SSEEvent) -> Void) {
        bytes.withUnsafeBytes { feed($0, onEvent) }
    }

    /// The same events as `feed`, their data lent for the duration of the callback instead of
    /// copied into an array: the relay's path, one event per token.
    public mutating func feedRaw(_ bytes: UnsafeRawBufferPointer, _ onEvent: (String?, UnsafeRawBufferPointer) -> Void) {
        defer {
            // An event still open keeps its data past this call: copy it out of `bytes`.
            if let p = inPlace {
                data.append(contentsOf: p)
                inPlace = nil
            }
        }
        var i = 0
        let n = bytes.count
        if skipLeadingLF, n > 0 {
            skipLeadingLF = false
            if bytes[0] == 0x0A { i = 1 }
        }
        while i < n {
            var j = ByteSearch.lineBreak(bytes, from: i)
            if j == n {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<n]))
                return
            }
            if line.isEmpty {
                processLine(UnsafeRawBufferPointer(rebasing: bytes[i..<j]), lineIsInPlace: true, onEvent)
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                let whole = line
                line.removeAll(keepingCapacity: true)
                whole.withUnsafeBytes { processLine($0, lineIsInPlace: false, onEvent) }
            }
            if bytes[j] == 0x0D {
                if j + 1 < n {
                    if bytes[j + 1] == 0x0A { j += 1 }
                } else {
                    skipLeadingLF = true
                }
            }
            i = j + 1
        }
    }

    private mutating func processLine(_ l: UnsafeRawBufferPointer, lineIsInPlace: Bool,
                                      _ onEvent: (String?, UnsafeRawBufferPointer) -> Void) {
        if l.isEmpty {
            if hasData {
                if let p = inPlace {
                    onEvent(eventName, p)
                } else {
                    data.withUnsafeBytes { onEvent(eventName, $0) }
                }
            }
            inPlace = nil
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventName = nil
            return
        }
        if l[0] == 0x3A { return }  // ':' comment (keep-alives)
        var colon = 0
        while colon < l.count, l[colon] != 0x3A { colon += 1 }
        let field = UnsafeRawBufferPointer(rebasing: l[0..<colon])
        var valueStart = colon < l.count ? colon + 1 : l.count
        if valueStart < l.count, l[valueStart] == 0x20 { valueStart += 1 }
        let value = UnsafeRawBufferPointer(rebasing: l[valueStart..<l.count])
        if Self.equals(field, "data") {
            if !hasData, lineIsInPlace {
                inPlace = value
            } else {
                if let p = inPlace {
                    data.append(contentsOf: p)
                    inPlace = nil
                }
                if hasData { data.append(0x0A) }
                data.append(contentsOf: value)
            }
            hasData = true
        } else if Self.equals(field, "event") {
            eventName = String(decoding: value, as: UTF8.self)
        }
        // `id` and `retry` do not matter to a relay that never reconnects an upstream stream.
    }

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        let p = text.utf8Start
        for k in 0..<bytes.count where bytes[k] != p[k] { return false }
        return true
    }
}
