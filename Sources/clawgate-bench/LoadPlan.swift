/// How much load to offer and for how long; shared by every mode.
struct LoadPlan {
    /// Closed loop: requests kept in flight at once (the number of connections for `ws`).
    var concurrency: Int
    /// Open loop: requests started per second on a fixed schedule, whatever the replies do.
    var rate: Double?
    /// Stop starting requests after this many seconds (after warm-up)...
    var duration: Double?
    /// ...or after this many requests (after warm-up).
    var requests: Int?
    /// Requests started during the first `warmup` seconds are run but not recorded.
    var warmup: Double
    /// The first `warmupRequests` requests are run but not recorded (for long streams, where a
    /// time-based warm-up would cut waves of requests in half).
    var warmupRequests: Int = 0
    /// How long to wait for requests still in flight once starting has stopped.
    var grace: Double
    /// Open loop: requests in flight beyond this are not started and count as `overload` errors.
    var maxInFlight: Int

    var isOpenLoop: Bool { rate != nil }
}
