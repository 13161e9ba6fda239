import Foundation
import Glibc
import LwsEpoll
import Testing

/// LwsEpoll on its own: a poll table on the test's thread, answered the way lws's would be.
/// The mirror is per thread and each test begins and ends its own.
@Suite(.serialized) struct LwsEpollTests {
    /// A table like lws's: a marker (which is how the mirror recognises the table) and sockets.
    private final class Table {
        let mirror: OpaquePointer
        var entries: [pollfd]
        private var owned: [Int32] = []

        init(on: UInt32 = 0, off: UInt32 = 0) throws {
            mirror = try #require(clawgate_lws_epoll_create(on, off))
            let (marker, other) = try Table.pair()
            owned += [marker, other]
            entries = [pollfd(fd: marker, events: Int16(POLLIN), revents: 0)]
            // lws's table never moves; the mirror knows it by its address.
            entries.reserveCapacity(64)
            clawgate_lws_epoll_begin(mirror, marker)
        }

        static func pair() throws -> (Int32, Int32) {
            var fds: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, streamSocketType, 0, &fds) == 0)
            return (fds[0], fds[1])
        }

        /// Adds one end of a new pair to the table; returns (in the table, its peer).
        func addSocket(events: Int32 = POLLIN) throws -> (Int32, Int32) {
            let (a, b) = try Table.pair()
            owned += [a, b]
            entries.append(pollfd(fd: a, events: Int16(events), revents: 0))
            return (a, b)
        }

        /// One service turn: Glibc's poll() is the interposed one in this process too.
        func turn(timeout: Int32 = 0) -> Int32 { poll(&entries, nfds_t(entries.count), timeout) }

        /// Closes one of the table's own descriptors now (through the interposed close()).
        func close(_ fd: Int32) {
            owned.removeAll { $0 == fd }
            Glibc.close(fd)
        }

        func adopt(_ fd: Int32) { owned.append(fd) }

        func revents(_ fd: Int32) -> Int32 { Int32(entries.first { $0.fd == fd }?.revents ?? 0) }

        var stats: clawgate_lws_epoll_stats {
            var s = clawgate_lws_epoll_stats()
            clawgate_lws_epoll_read_stats(mirror, &s)
            return s
        }

        func end() {
            clawgate_lws_epoll_end(mirror)
            clawgate_lws_epoll_free(mirror)
            for fd in owned { Glibc.close(fd) }
        }
    }

    private func poke(_ fd: Int32) { _ = write(fd, "x", 1) }

    @Test func readinessIsReportedAsPollWouldReportIt() throws {
        let t = try Table()
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        let (b, _) = try t.addSocket(events: POLLIN | POLLOUT)
        #expect(t.turn() == 1)  // b is writable, nobody wrote to a
        #expect(t.revents(a) == 0)
        #expect(t.revents(b) == POLLOUT)
        poke(peerA)
        #expect(t.turn() == 2)
        #expect(t.revents(a) == POLLIN)
        // lws stops asking for POLLOUT: no longer reported, even though b is still writable.
        t.entries[2].events = Int16(POLLIN)
        #expect(t.turn() == 1)
        #expect(t.revents(b) == 0)
        let s = t.stats
        #expect(s.epoll_turns == 3)
        #expect(s.poll_turns == 0)
        #expect(s.fallbacks == 0)
    }

    @Test func aWaitingTurnWakesWhenASocketBecomesReadable() throws {
        let t = try Table()
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        let writer = Thread { _ = write(peerA, "x", 1) }
        writer.start()
        #expect(t.turn(timeout: 10_000) == 1)
        #expect(t.revents(a) == POLLIN)
    }

    /// lws closes a socket and accepts the next one, which gets the same number and the same
    /// place in the table with the same events: the table looks unchanged, but the kernel
    /// dropped the old registration with the old socket. The close is what tells the mirror.
    @Test func aNumberReusedAfterCloseIsWatchedAgain() throws {
        let t = try Table()
        defer { t.end() }
        var (a, peerA) = try t.addSocket()
        for _ in 0..<10 {
            #expect(t.turn() == 0)
            let (c, peerC) = try Table.pair()
            t.close(a)
            let successor = fcntl(c, F_DUPFD_CLOEXEC, a)
            Glibc.close(c)
            t.close(peerA)
            try #require(successor >= 0)
            t.adopt(successor)
            t.adopt(peerC)
            t.entries[1].fd = successor
            if successor != a {
                // Another test running in parallel took the number in between: again.
                (a, peerA) = (successor, peerC)
                continue
            }
            poke(peerC)
            #expect(t.turn() == 1)
            #expect(t.revents(a) == POLLIN)
            return
        }
        Issue.record("the freed number was taken by another test ten times in a row")
    }

    /// A descriptor lws dropped from its table without closing must not be reported; the set
    /// is rebuilt, and the rest of the table keeps working.
    @Test func aDescriptorLeftOutOfTheTableIsNotReported() throws {
        let t = try Table()
        defer { t.end() }
        let (_, peerA) = try t.addSocket()
        let (b, peerB) = try t.addSocket()
        #expect(t.turn() == 0)
        t.entries.remove(at: 1)  // a leaves the table, still open
        poke(peerA)
        #expect(t.turn() == 0)
        poke(peerB)
        #expect(t.turn() == 1)
        #expect(t.revents(b) == POLLIN)
        #expect(t.stats.rebuilds == 1)
    }

    /// lws closes a hole in its table by moving the last entry into it, and a turn only looks
    /// at entries that changed since the last one. Entries that move, leave and come back at
    /// a position they held before are still reported where they now stand, with no rebuild.
    @Test func entriesThatMoveAroundTheTableAreFollowed() throws {
        let t = try Table()
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        let (b, peerB) = try t.addSocket()
        let (c, peerC) = try t.addSocket()
        func entry(_ fd: Int32) -> pollfd { pollfd(fd: fd, events: Int16(POLLIN), revents: 0) }
        #expect(t.turn() == 0)
        // The table is changed in place: the mirror knows it by its address, as lws's.
        // a leaves (still open, as when lws stops watching it): c moves into its place.
        t.entries[1] = t.entries[3]
        t.entries.removeLast()
        poke(peerC)
        #expect(t.turn() == 1)
        #expect(t.revents(c) == POLLIN)
        var byte: UInt8 = 0
        #expect(read(c, &byte, 1) == 1)  // served, as lws would, before c leaves the table
        // c leaves: b moves to position 1. Then b leaves, a comes back at 1, and b at 2,
        // where it stood two turns ago.
        t.entries[1] = t.entries[2]
        t.entries.removeLast()
        #expect(t.turn() == 0)
        t.entries.removeLast()
        #expect(t.turn() == 0)
        t.entries.append(entry(a))
        #expect(t.turn() == 0)
        t.entries.append(entry(b))
        poke(peerB)
        #expect(t.turn() == 1)
        #expect(t.revents(b) == POLLIN)
        poke(peerA)
        #expect(t.turn() == 2)
        #expect(t.revents(a) == POLLIN)
        #expect(t.stats.rebuilds == 0)
        #expect(t.stats.fallbacks == 0)
    }

    /// libcurl's poll(fd, 0) "more data pending?" right after a read that came back short is
    /// answered "no" from that read, once; anything else still goes to the kernel.
    @Test func aShortReadAnswersTheNextPendingDataQuestionOnce() throws {
        let t = try Table()
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        #expect(t.turn() == 0)
        var buf = [UInt8](repeating: 0, count: 16)
        var question = pollfd(fd: a, events: Int16(POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND), revents: 0)
        _ = write(peerA, "xy", 2)
        #expect(recv(a, &buf, 16, 0) == 2)  // short: nothing was left at that moment
        _ = write(peerA, "z", 1)            // arrives after the read
        #expect(poll(&question, 1, 0) == 0)
        #expect(t.stats.answered_reads == 1)
        #expect(poll(&question, 1, 0) == 1)  // answered once: the kernel has the next one
        #expect(question.revents & Int16(POLLIN) != 0)
        // A read that filled its buffer says nothing about what is left.
        _ = write(peerA, "w", 1)
        #expect(recv(a, &buf, 1, 0) == 1)
        #expect(poll(&question, 1, 0) == 1)
        // A question about writing is not a read's to answer.
        #expect(recv(a, &buf, 16, 0) == 1)
        var writable = pollfd(fd: a, events: Int16(POLLOUT), revents: 0)
        #expect(poll(&writable, 1, 0) == 1)
        // Nor does a short read outlive a turn of the loop.
        _ = write(peerA, "v", 1)
        #expect(recv(a, &buf, 16, 0) == 1)
        _ = write(peerA, "u", 1)
        #expect(t.turn() == 1)
        #expect(poll(&question, 1, 0) == 1)
        #expect(t.stats.answered_reads == 1)
    }

    /// lws's POLLOUT turn after a response: answered from the send that just wrote in full, on a
    /// small table only, never twice in a row, and whatever else is ready comes with the next
    /// real poll.
    @Test func aFullSendAnswersTheNextWritableQuestionOnce() throws {
        let t = try Table(on: 16, off: 8)
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        let (b, _) = try t.addSocket(events: POLLIN | POLLOUT)
        #expect(t.turn() == 1)      // the mirror learns the table
        poke(peerA)
        #expect(send(b, "x", 1, 0) == 1)
        #expect(t.turn(timeout: 1000) == 1)
        #expect(t.revents(b) == POLLOUT)
        #expect(t.revents(a) == 0)  // not yet: the next turn polls for real
        #expect(t.stats.answered_writes == 1)
        #expect(send(b, "x", 1, 0) == 1)
        #expect(t.turn() == 2)      // not twice in a row
        #expect(t.revents(a) == POLLIN)
        #expect(t.revents(b) == POLLOUT)
        #expect(t.stats.answered_writes == 1)
        // A send to a socket that asks for no POLLOUT answers nothing.
        #expect(send(a, "x", 1, 0) == 1)
        #expect(t.turn() == 2)
        #expect(t.stats.answered_writes == 1)
    }

    @Test func aLargeTableIsNeverAnsweredFromASend() throws {
        let t = try Table(on: 0, off: 0)
        defer { t.end() }
        let (b, _) = try t.addSocket(events: POLLIN | POLLOUT)
        #expect(t.turn() == 1)
        #expect(send(b, "x", 1, 0) == 1)
        #expect(t.turn() == 1)
        #expect(t.revents(b) == POLLOUT)
        #expect(t.stats.answered_writes == 0)
    }

    @Test func smallTablesGoToPollAndLargeOnesToEpoll() throws {
        let t = try Table(on: 4, off: 3)
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        poke(peerA)
        #expect(t.turn() == 1)  // 2 entries: poll()
        _ = try t.addSocket()
        _ = try t.addSocket()
        #expect(t.turn() == 1)  // 4: epoll
        #expect(t.revents(a) == POLLIN)
        t.entries.removeLast()
        #expect(t.turn() == 1)  // 3: still epoll (hysteresis)
        t.entries.removeLast()
        #expect(t.turn() == 1)  // 2: poll() again
        var s = t.stats
        #expect((s.poll_turns, s.epoll_turns) == (2, 2))
        // Every entry registered once when the set opened; nothing since.
        #expect(s.ctl_calls == 4)
        // Back above the threshold: a fresh set, registered again.
        _ = try t.addSocket()
        _ = try t.addSocket()
        #expect(t.turn() == 1)
        s = t.stats
        #expect(s.epoll_turns == 3)
        #expect(s.ctl_calls == 8)
    }

    @Test func otherPollCallsOnTheThreadPassStraightThrough() throws {
        let t = try Table()
        defer { t.end() }
        let (a, peerA) = try t.addSocket()
        poke(peerA)
        var alone = [pollfd(fd: a, events: Int16(POLLIN), revents: 0)]
        #expect(poll(&alone, 1, 0) == 1)
        #expect(alone[0].revents == Int16(POLLIN))
        #expect(t.stats.epoll_turns == 0)
    }
}
