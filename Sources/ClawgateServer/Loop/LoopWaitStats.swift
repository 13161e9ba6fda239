import LwsEpoll

/// How the service thread waited for events: lws's own poll(), or the epoll set that serves
/// it once lws holds many descriptors (LwsEpoll).
public struct LoopWaitStats: Sendable, Equatable {
    public var epollTurns: UInt64
    public var pollTurns: UInt64
    public var epollCtlCalls: UInt64
    public var rebuilds: UInt64
    public var fallbacks: UInt64

    init(_ s: clawgate_lws_epoll_stats) {
        epollTurns = s.epoll_turns
        pollTurns = s.poll_turns
        epollCtlCalls = s.ctl_calls
        rebuilds = s.rebuilds
        fallbacks = s.fallbacks
    }
}
