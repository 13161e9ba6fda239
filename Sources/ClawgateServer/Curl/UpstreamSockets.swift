import CCurl
import CEpoll
import CLws
import Glibc

/// curl's sockets, kept in one epoll set that lws watches as a single raw file. Two reasons:
/// - lws waits in poll(), whose cost grows with every descriptor it holds: with 500 streams the
///   upstream sockets were half of them, scanned on every token.
/// - One wake-up collects every upstream that has bytes, instead of one lws service turn each.
///
/// Interest in connections is dropped lazily. When curl parks a kept-alive connection in its
/// pool it stops caring about the socket, but the socket stays in the set; reusing the
/// connection then costs no epoll_ctl. If a parked socket fires (the upstream closed it), it
/// leaves the set, and curl checks the connection before reusing it anyway. Only IP sockets are
/// kept like that: curl closes them through the close-socket callback (`closing`), so the set
/// always knows when a number is free again. Anything else curl watches (the threaded
/// resolver's socketpair) it closes unannounced, so that leaves the set as soon as curl stops
/// caring. Only touched on the lws service thread.
final class UpstreamSockets {
    /// What epoll and curl know about one descriptor. `generation` tells an event for a
    /// descriptor from one for an earlier socket that had the same number.
    private struct Slot {
        var generation: UInt32 = 0
        var registered: UInt32 = 0  // the epoll mask; 0 = not in the set
        var wanted: UInt32 = 0  // what curl waits for; 0 = parked or forgotten
        var parksLazily = false  // an IP socket, whose close curl announces
    }

    static let protocolName = "clawgate-upstream-sockets"
    private let epfd: Int32
    private var watch: OpaquePointer?
    /// lws's duplicate of the set's descriptor: in lws's poll table and nowhere else.
    private(set) var watchedDescriptor: Int32 = -1
    private var slots: [Slot] = []
    private var nextGeneration: UInt32 = 0
    private let readyEvents = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(CEPOLL_BATCH))
    private let readyData = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(CEPOLL_BATCH))
    /// Hands a ready socket to curl (`CURL_CSELECT_*` bits).
    private let onReady: (curl_socket_t, Int32) -> Void
    /// After this long a collection hands over no further socket (`GatewayOptions.turnBudgetUs`).
    private let drainBudgetUs: UInt64

    init(drainBudgetUs: UInt64 = 250, onReady: @escaping (curl_socket_t, Int32) -> Void) throws {
        self.onReady = onReady
        self.drainBudgetUs = drainBudgetUs
        epfd = cepoll_create()
        guard epfd >= 0 else { throw CurlError(call: "epoll_create1", message: String(cString: strerror(errno))) }
    }

    /// Has lws watch the set. lws owns a duplicate of its descriptor (and closes it with the
    /// context); the original stays ours until curl has closed its last socket.
    func attach(to vhost: OpaquePointer) throws {
        let dup = clws_dup_cloexec(epfd)
        guard dup >= 0,
              let w = clws_adopt_raw_file(vhost, dup, UpstreamSockets.protocolName, Unmanaged.passUnretained(self).toOpaque())
        else {
            if dup >= 0 { Glibc.close(dup) }
            throw CurlError(call: "lws_adopt_descriptor_vhost", message: "could not watch the upstream socket set")
        }
        watch = w
        watchedDescriptor = dup
    }

    /// After curl has closed every socket (curl_multi_cleanup).
    func close() {
        if let watch { lws_set_opaque_user_data(watch, nil) }
        watch = nil
        Glibc.close(epfd)
    }

    deinit {
        readyEvents.deallocate()
        readyData.deallocate()
    }

    /// curl's CURLMOPT_SOCKETFUNCTION.
    func interestChanged(_ fd: curl_socket_t, what: Int32) {
        guard fd >= 0 else { return }
        let i = Int(fd)
        if i >= slots.count { slots.append(contentsOf: repeatElement(Slot(), count: i + 1 - slots.count)) }
        let wanted: UInt32 = switch what {
        case CURL_POLL_IN: UInt32(CEPOLL_IN)
        case CURL_POLL_OUT: UInt32(CEPOLL_OUT)
        case CURL_POLL_INOUT: UInt32(CEPOLL_IN) | UInt32(CEPOLL_OUT)
        default: 0
        }
        slots[i].wanted = wanted
        if wanted == 0 {
            if !slots[i].parksLazily { forget(fd) }
            return
        }
        let registered = slots[i].registered
        guard registered != wanted else { return }
        if registered == 0 {
            nextGeneration &+= 1
            slots[i].generation = nextGeneration
            slots[i].parksLazily = cepoll_is_ip_socket(fd) != 0
        }
        // ADD when we think it is out of the set, MOD when in; each falls back to the other
        // should the kernel disagree.
        let (first, second) = registered == 0
            ? (Int32(CEPOLL_CTL_ADD), Int32(CEPOLL_CTL_MOD)) : (Int32(CEPOLL_CTL_MOD), Int32(CEPOLL_CTL_ADD))
        // Not watched when both fail: curl's connect and the call's first-token timeouts end
        // the transfer with an error; nothing waits forever.
        let watched = control(first, fd, wanted) == 0 || control(second, fd, wanted) == 0
        slots[i].registered = watched ? wanted : 0
    }

    /// curl is about to close `fd` (CURLOPT_CLOSESOCKETFUNCTION).
    func closing(_ fd: curl_socket_t) {
        guard fd >= 0, Int(fd) < slots.count else { return }
        forget(fd)
        slots[Int(fd)].wanted = 0
    }

    /// The raw-file watch on the set fired: hand each ready socket to curl. The set is
    /// level-triggered, so whatever is left after this turn fires it again.
    func collect() {
        // Bytes that arrived while a batch was being relayed are taken too, without another loop
        // turn, bounded in batches and in time: a burst of answers (the simulator, running late
        // on a busy core, sends dozens of streams' tokens at once) must not keep chat frames
        // that came meanwhile unread for the whole burst. Not after a batch of one: at a trickle
        // nothing else has come in meanwhile, and asking cost a system call per wake-up;
        // whatever did come fires the set again.
        let began = MonotonicClock.nowUs()
        var rounds = 0
        while rounds < 9 {
            let (count, budgetLeft) = collectBatch(began: began)
            guard budgetLeft, count > 1 else { return }
            rounds += 1
        }
    }

    /// Hands over one batch of ready sockets, stopping early once the collection has run
    /// `drainBudgetUs`: the sockets not handed over stay ready in the level-triggered set, which
    /// reports them again, ahead of any that became ready since.
    private func collectBatch(began: UInt64) -> (count: Int, budgetLeft: Bool) {
        let n = Int(cepoll_collect(epfd, readyEvents, readyData))
        for i in 0..<max(n, 0) {
            let data = readyData[i]
            let fd = Int32(truncatingIfNeeded: data & 0xffff_ffff)
            // An earlier entry of this batch may have closed the socket, or reused its number.
            guard Int(fd) < slots.count, slots[Int(fd)].generation == UInt32(truncatingIfNeeded: data >> 32),
                  slots[Int(fd)].registered != 0 else { continue }
            guard slots[Int(fd)].wanted != 0 else {
                forget(fd)  // a parked connection woke: the upstream closed it or sent stray bytes
                continue
            }
            let ev = readyEvents[i]
            var action: Int32 = 0
            if ev & (UInt32(CEPOLL_IN) | UInt32(CEPOLL_HUP)) != 0 { action |= CURL_CSELECT_IN }
            if ev & UInt32(CEPOLL_OUT) != 0 { action |= CURL_CSELECT_OUT }
            if ev & UInt32(CEPOLL_ERR) != 0 { action |= CURL_CSELECT_ERR }
            onReady(fd, action)
            if MonotonicClock.nowUs() &- began >= drainBudgetUs { return (n, false) }
        }
        return (n, true)
    }

    /// lws let go of the watch (context teardown).
    func watchClosed() { watch = nil }

    private func forget(_ fd: curl_socket_t) {
        guard slots[Int(fd)].registered != 0 else { return }
        _ = control(Int32(CEPOLL_CTL_DEL), fd, 0)
        slots[Int(fd)].registered = 0
    }

    private func control(_ op: Int32, _ fd: curl_socket_t, _ events: UInt32) -> Int32 {
        cepoll_ctl(epfd, op, fd, events, UInt64(slots[Int(fd)].generation) << 32 | UInt64(UInt32(bitPattern: fd)))
    }
}

@available(*, unavailable) extension UpstreamSockets: Sendable {}
