/// A growable list of durations in nanoseconds, summarised by nearest-rank percentiles.
///
/// Sorting an array once at the end costs nothing on the hot path (one append per sample) and
/// is exact; a million samples sort in well under a second.
struct Samples {
    private(set) var values: [UInt64] = []

    init() { values.reserveCapacity(1 << 16) }

    mutating func add(_ nanos: UInt64) { values.append(nanos) }

    var count: Int { values.count }

    /// p50/p90/p95/p99/p99.9/max/mean in milliseconds, or nil when there is no sample.
    func summary() -> Summary? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func pct(_ p: Double) -> Double {
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return Double(sorted[max(0, min(sorted.count - 1, rank - 1))]) / 1e6
        }
        let total = sorted.reduce(0.0) { $0 + Double($1) }
        return Summary(p50: pct(50), p90: pct(90), p95: pct(95), p99: pct(99), p999: pct(99.9),
                       max: Double(sorted[sorted.count - 1]) / 1e6, mean: total / Double(sorted.count) / 1e6)
    }

    struct Summary {
        var p50, p90, p95, p99, p999, max, mean: Double

        var json: String {
            "{\"p50\":\(fmt(p50)),\"p90\":\(fmt(p90)),\"p95\":\(fmt(p95)),\"p99\":\(fmt(p99)),\"p999\":\(fmt(p999)),\"max\":\(fmt(max)),\"mean\":\(fmt(mean))}"
        }
    }
}

/// Three decimals are microsecond resolution when the unit is milliseconds.
func fmt(_ v: Double) -> String {
    guard v.isFinite else { return "null" }
    let scaled = (v * 1000).rounded() / 1000
    return String(scaled)
}
