import Glibc

/// Every recorded request's timing, for `--trace`: where in the run a slow one started, and
/// whether slow ones come alone or in clusters (a stall that catches every request in flight).
/// Kept in memory and written once the run is over, so the file costs the hot path nothing.
struct RequestTrace {
    private var rows: [(start: UInt64, ttft: UInt64, latency: UInt64)] = []

    init() { rows.reserveCapacity(1 << 14) }

    /// Nanoseconds on the monotonic clock; `firstByte` 0 when none arrived.
    mutating func add(start: UInt64, firstByte: UInt64, end: UInt64) {
        rows.append((start, firstByte > 0 ? firstByte &- start : 0, end &- start))
    }

    /// One line per request, in order of scheduled start: start (ms since the first), TTFT (ms,
    /// `-` when there was no first byte) and latency (ms), tab-separated, under a header line.
    func write(to path: String) -> Bool {
        guard let f = fopen(path, "w") else { return false }
        defer { fclose(f) }
        fputs("start_ms\tttft_ms\tlatency_ms\n", f)
        let sorted = rows.sorted { $0.start < $1.start }
        let first = sorted.first?.start ?? 0
        func ms(_ ns: UInt64) -> String {
            let us = (ns + 500) / 1000
            let frac = String(us % 1000)
            return "\(us / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
        }
        for r in sorted {
            fputs("\(ms(r.start - first))\t\(r.ttft > 0 ? ms(r.ttft) : "-")\t\(ms(r.latency))\n", f)
        }
        return true
    }
}
