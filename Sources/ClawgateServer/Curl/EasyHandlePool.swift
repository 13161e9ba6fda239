import CCurl

/// Finished easy handles, reset and kept for the next transfer: creating one per request was a
/// visible share of the per-request cost, and a reused handle keeps its TLS session cache.
/// Only touched on the lws service thread.
final class EasyHandlePool {
    private var idle: [UnsafeMutableRawPointer] = []
    private let limit: Int

    init(limit: Int = 256) { self.limit = limit }

    deinit { drain() }

    func take() -> UnsafeMutableRawPointer? {
        idle.popLast() ?? curl_easy_init()
    }

    /// The handle must no longer be in a multi handle.
    func give(_ easy: UnsafeMutableRawPointer) {
        guard idle.count < limit else {
            curl_easy_cleanup(easy)
            return
        }
        curl_easy_reset(easy)
        idle.append(easy)
    }

    func drain() {
        for e in idle { curl_easy_cleanup(e) }
        idle.removeAll()
    }
}

@available(*, unavailable) extension EasyHandlePool: Sendable {}
