import CCurl
@testable import ClawgateServer
import Foundation
import Glibc
import Testing

/// The epoll set of curl's sockets on its own, driven the way curl's socket callback drives it.
@Suite(.serialized) struct UpstreamSocketsTests {
    private final class Seen { var ready: [(fd: Int32, action: Int32)] = [] }

    private func makeSet(drainBudgetUs: UInt64 = 250,
                         afterRead: @escaping (Int32) -> Void = { _ in }) throws -> (UpstreamSockets, Seen) {
        let seen = Seen()
        let set = try UpstreamSockets(drainBudgetUs: drainBudgetUs) { fd, action in
            seen.ready.append((fd, action))
            // Like curl, read what is there: the set is level-triggered.
            var buffer = [UInt8](repeating: 0, count: 64)
            _ = read(fd, &buffer, buffer.count)
            afterRead(fd)
        }
        return (set, seen)
    }

    /// Three watched sockets, where b's bytes arrive while a or c is relayed.
    private struct Relaying {
        let set: UpstreamSockets
        let seen: Seen
        let a, peerA, b, peerB, c, peerC: Int32

        func close() {
            set.close()
            for fd in [a, peerA, b, peerB, c, peerC] { Glibc.close(fd) }
        }
    }

    private func relaying(drainBudgetUs: UInt64) throws -> Relaying {
        let (a, peerA) = try pair()
        let (b, peerB) = try pair()
        let (c, peerC) = try pair()
        let (set, seen) = try makeSet(drainBudgetUs: drainBudgetUs) { fd in
            if fd != b { _ = write(peerB, "x", 1) }
        }
        for fd in [a, b, c] { set.interestChanged(fd, what: CURL_POLL_IN) }
        return Relaying(set: set, seen: seen, a: a, peerA: peerA, b: b, peerB: peerB, c: c, peerC: peerC)
    }

    private func pair(_ type: Int32 = streamSocketType) throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, type, 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    private func poke(_ fd: Int32) { _ = write(fd, "x", 1) }

    @Test func aReadySocketIsHandedToCurl() throws {
        let (set, seen) = try makeSet()
        defer { set.close() }
        let (a, b) = try pair()
        defer { close(a); close(b) }
        set.interestChanged(a, what: CURL_POLL_IN)
        set.collect()
        #expect(seen.ready.isEmpty)
        poke(b)
        set.collect()
        #expect(seen.ready.map(\.fd) == [a])
        #expect(seen.ready.first.map { $0.action & CURL_CSELECT_IN != 0 } == true)
    }

    /// Bytes that arrive while a batch is relayed are taken in the same collection after a batch
    /// of two or more, and left for the next one (the set fires again) after a batch of one.
    @Test func theSetIsAskedAgainOnlyAfterABatchOfMoreThanOne() throws {
        // No time budget: a stall of this machine must not end the collection early.
        let r = try relaying(drainBudgetUs: .max)
        defer { r.close() }
        poke(r.peerA)
        r.set.collect()
        #expect(r.seen.ready.map(\.fd) == [r.a])
        r.set.collect()
        #expect(r.seen.ready.map(\.fd) == [r.a, r.b])
        r.seen.ready.removeAll()
        poke(r.peerA)
        poke(r.peerC)
        r.set.collect()
        #expect(Set(r.seen.ready.prefix(2).map(\.fd)) == [r.a, r.c])
        #expect(r.seen.ready.dropFirst(2).map(\.fd) == [r.b])
    }

    /// Past its time budget a collection hands over no further socket. With none, each
    /// collection hands over one; the ready socket left over comes first in the next, ahead of
    /// b, whose bytes arrived while the first was relayed.
    @Test func aCollectionPastItsBudgetLeavesTheRestForTheNext() throws {
        let r = try relaying(drainBudgetUs: 0)
        defer { r.close() }
        poke(r.peerA)
        poke(r.peerC)
        for handed in 1...3 {
            r.set.collect()
            #expect(r.seen.ready.count == handed)
        }
        #expect(Set(r.seen.ready.prefix(2).map(\.fd)) == [r.a, r.c])
        #expect(r.seen.ready.last?.fd == r.b)
    }

    /// curl's threaded resolver watches a socketpair and closes it itself, without the
    /// close-socket callback. A new socket that gets the same number must still be watched.
    @Test func aDescriptorCurlClosesUnannouncedIsNotMistakenForItsSuccessor() throws {
        let (set, seen) = try makeSet()
        defer { set.close() }
        let (a, b) = try pair()
        set.interestChanged(a, what: CURL_POLL_IN)
        set.interestChanged(a, what: CURL_POLL_REMOVE)
        // The successor takes the number in one step (dup2 closes the old socket first), as a
        // new socket would once the old one is closed.
        let (c, d) = try pair()
        try #require(dup2(c, a) == a)
        close(c)
        close(b)
        defer { close(a); close(d) }
        set.interestChanged(a, what: CURL_POLL_IN)
        poke(d)
        set.collect()
        #expect(seen.ready.map(\.fd) == [a])
    }

    /// An IP socket curl parks stays in the set (no epoll_ctl on reuse); when it fires while
    /// parked, curl is not told, and it is watched again once curl wants it.
    @Test func aParkedConnectionThatFiresIsDroppedThenWatchedAgainOnReuse() throws {
        let listener = socket(AF_INET, streamSocketType, 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, len) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &len) == 0
            }
        }
        try #require(listening)
        let client = socket(AF_INET, streamSocketType, 0)
        defer { close(client) }
        let connected = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) == 0 }
        }
        try #require(connected)
        let server = accept(listener, nil, nil)
        defer { close(server) }

        let (set, seen) = try makeSet()
        defer { set.close() }
        set.interestChanged(client, what: CURL_POLL_IN)
        set.interestChanged(client, what: CURL_POLL_REMOVE)  // parked in curl's pool
        poke(server)
        set.collect()
        #expect(seen.ready.isEmpty, "a parked connection's bytes are not curl's business")
        set.interestChanged(client, what: CURL_POLL_IN)  // reused
        set.collect()
        #expect(seen.ready.map(\.fd) == [client], "the unread byte is reported once curl wants the socket again")
    }
}
