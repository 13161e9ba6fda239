import Testing
@testable import ClawgateCore

private final class Probe: HeapTimer {
    let name: Int
    var heapIndex = -1
    init(_ name: Int) { self.name = name }
}

/// A small seeded generator (SplitMix64), so the random test replays exactly.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func drain(_ heap: inout TimerHeap<Probe>, now: UInt64) -> [Int] {
    var out: [Int] = []
    while let t = heap.popDue(now: now) { out.append(t.name) }
    return out
}

@Suite struct TimerHeapTests {
    @Test func timersComeOutInDueOrderAndOnlyWhenDue() {
        var heap = TimerHeap<Probe>()
        let probes = (0..<5).map(Probe.init)
        for (p, due) in zip(probes, [50, 10, 40, 20, 30] as [UInt64]) { heap.schedule(p, due: due) }
        #expect(heap.earliestDue == 10)
        #expect(heap.popDue(now: 9) == nil)
        #expect(drain(&heap, now: 30) == [1, 3, 4])
        #expect(heap.earliestDue == 40)
        #expect(drain(&heap, now: 100) == [2, 0])
        #expect(heap.isEmpty)
        #expect(probes.allSatisfy { $0.heapIndex == -1 })
    }

    @Test func equalDueTimesKeepTheOrderTheyWereArmedIn() {
        var heap = TimerHeap<Probe>()
        let probes = (0..<8).map(Probe.init)
        for p in probes { heap.schedule(p, due: 7) }
        #expect(drain(&heap, now: 7) == Array(0..<8))
    }

    @Test func reArmingMovesATimerInsteadOfQueueingItTwice() {
        var heap = TimerHeap<Probe>()
        let a = Probe(1), b = Probe(2), c = Probe(3)
        heap.schedule(a, due: 10)
        heap.schedule(b, due: 20)
        heap.schedule(c, due: 30)
        heap.schedule(a, due: 40)   // later
        heap.schedule(c, due: 5)    // earlier
        #expect(heap.count == 3)
        #expect(drain(&heap, now: 100) == [3, 2, 1])
    }

    @Test func cancelledTimersNeverComeOutAndCancellingTwiceIsHarmless() {
        var heap = TimerHeap<Probe>()
        let probes = (0..<6).map(Probe.init)
        for p in probes { heap.schedule(p, due: UInt64(10 * (p.name + 1))) }
        heap.cancel(probes[0])
        heap.cancel(probes[3])
        heap.cancel(probes[3])
        #expect(heap.count == 4)
        #expect(!heap.contains(probes[3]))
        #expect(heap.earliestDue == 20)
        #expect(drain(&heap, now: 1000) == [1, 2, 4, 5])
    }

    /// A timer from another heap, or one that left this heap, is not mistaken for whatever
    /// now stands at the index it remembers.
    @Test func aTimerThatIsNotQueuedIsNotFoundAtItsOldIndex() {
        var heap = TimerHeap<Probe>()
        var other = TimerHeap<Probe>()
        let mine = Probe(1), theirs = Probe(2)
        heap.schedule(mine, due: 10)
        other.schedule(theirs, due: 10)
        #expect(!heap.contains(theirs))
        heap.cancel(theirs)
        #expect(heap.count == 1 && other.count == 1)
        #expect(drain(&heap, now: 10) == [1])
    }

    /// Re-armed for the same due time, a timer goes behind the ones armed before it.
    @Test func reArmingAtTheSameDueTimeGoesBehindTheOthers() {
        var heap = TimerHeap<Probe>()
        let probes = (0..<4).map(Probe.init)
        for p in probes { heap.schedule(p, due: 10) }
        heap.schedule(probes[0], due: 10)
        heap.schedule(probes[2], due: 10)
        #expect(drain(&heap, now: 10) == [1, 3, 0, 2])
    }

    /// Random arming, re-arming and cancelling against a plain sorted model, from fixed seeds
    /// so that a failure can be replayed.
    @Test(arguments: 1...20 as ClosedRange<UInt64>)
    func agreesWithASortedListUnderRandomOperations(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var heap = TimerHeap<Probe>()
        let probes = (0..<64).map(Probe.init)
        var model: [Int: (due: UInt64, order: Int)] = [:]
        var order = 0
        var now: UInt64 = 0
        for _ in 0..<5000 {
            let p = probes[Int.random(in: 0..<probes.count, using: &rng)]
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                let due = now + UInt64.random(in: 0..<100, using: &rng)
                heap.schedule(p, due: due)
                order += 1
                model[p.name] = (due, order)
            case 5..<7:
                heap.cancel(p)
                model[p.name] = nil
            default:
                now += UInt64.random(in: 0..<20, using: &rng)
                let expected = model.filter { $0.value.due <= now }
                    .sorted { ($0.value.due, $0.value.order) < ($1.value.due, $1.value.order) }.map(\.key)
                #expect(drain(&heap, now: now) == expected)
                for k in expected { model[k] = nil }
            }
            #expect(heap.count == model.count)
            #expect(heap.earliestDue == model.values.map(\.due).min())
        }
    }
}
