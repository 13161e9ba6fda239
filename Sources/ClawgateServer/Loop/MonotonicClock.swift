import Glibc

/// Milliseconds on the monotonic clock: immune to wall-clock jumps, used for every timeout and
/// latency figure.
enum MonotonicClock {
    static func nowMs() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
    }

    static func nowUs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// Seconds since the Unix epoch, for `created` fields.
enum WallClock {
    static func unixSeconds() -> Int { Int(time(nil)) }
}
