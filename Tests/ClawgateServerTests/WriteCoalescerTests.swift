@testable import ClawgateServer
import Testing

/// The scope that defers client writes while curl delivers upstream bytes.
struct WriteCoalescerTests {
    /// Records its flushes; queues output the way connections do.
    final class Writer: DeferredWriter {
        let name: String
        let log: Log
        var due = false
        init(_ name: String, log: Log) { (self.name, self.log) = (name, log) }

        func queue(in c: WriteCoalescer) {
            log.events.append("queue \(name)")
            c.outputQueued(by: self, due: &due) { log.events.append("ask lws \(name)") }
        }

        func flushDeferred() {
            due = false
            log.events.append("flush \(name)")
        }
    }

    final class Log { var events: [String] = [] }

    @Test func writesQueuedInAScopeLeaveOncePerWriterWhenItEnds() {
        let c = WriteCoalescer()
        let log = Log()
        let a = Writer("a", log: log), b = Writer("b", log: log)
        c.coalescing {
            a.queue(in: c)
            b.queue(in: c)
            a.queue(in: c)
            #expect(!log.events.contains { $0.hasPrefix("flush") })
        }
        #expect(log.events == ["queue a", "queue b", "queue a", "flush a", "flush b"])
        #expect(!c.isOpen)
    }

    @Test func aNestedScopeJoinsTheOuterOne() {
        let c = WriteCoalescer()
        let log = Log()
        let a = Writer("a", log: log)
        c.coalescing {
            c.coalescing { a.queue(in: c) }
            // The inner scope ended, but the outer one is still open: nothing written yet.
            #expect(log.events == ["queue a"])
            #expect(c.isOpen)
        }
        #expect(log.events == ["queue a", "flush a"])
    }

    @Test func outsideAScopeTheWriterAsksLws() {
        let c = WriteCoalescer()
        let log = Log()
        Writer("a", log: log).queue(in: c)
        #expect(log.events == ["queue a", "ask lws a"])
    }

    @Test func outputQueuedWhileFlushingIsNotLost() {
        let c = WriteCoalescer()
        let log = Log()
        let b = Writer("b", log: log)
        /// A flush that resumes an upstream whose output lands on another connection.
        final class Resumer: DeferredWriter {
            let then: () -> Void
            init(_ then: @escaping () -> Void) { self.then = then }
            func flushDeferred() { then() }
        }
        let r = Resumer { b.queue(in: c) }
        var due = false
        c.coalescing { c.outputQueued(by: r, due: &due) {} }
        // The scope was closed while flushing: b asked lws for a writable callback.
        #expect(log.events == ["queue b", "ask lws b"])
    }
}
