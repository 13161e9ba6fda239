/// A timer a `TimerHeap` can hold. The heap keeps the timer's position in it here, so
/// re-arming or cancelling one is O(log n) with no search.
public protocol HeapTimer: AnyObject {
    /// Owned by the heap: the timer's index in it, or -1 when it is not queued.
    var heapIndex: Int { get set }
}

/// One-shot timers ordered by due time in a binary min-heap; timers due at the same time
/// come out in the order they were armed.
///
/// Why not the event loop's own timers: lws 4.1.6 keeps them in one sorted linked list, so
/// arming a timer walks every timer due before it. A call's deadline is the latest of all,
/// so with 500 calls open each new call walked ~500 list nodes (a cache miss each) on the
/// path of its first token.
///
/// Inlinable so that it is specialised for its timer type where it is used: unspecialised, each
/// call looked up generic metadata at run time (~2,500 instructions per request).
public struct TimerHeap<Timer: HeapTimer> {
    @usableFromInline struct Entry {
        @usableFromInline var due: UInt64
        @usableFromInline var order: UInt64
        @usableFromInline var timer: Timer

        @inlinable init(due: UInt64, order: UInt64, timer: Timer) {
            self.due = due
            self.order = order
            self.timer = timer
        }

        @inlinable func precedes(_ other: Entry) -> Bool {
            due != other.due ? due < other.due : order < other.order
        }
    }

    @usableFromInline var entries: [Entry] = []
    @usableFromInline var armed: UInt64 = 0

    @inlinable public init() {}

    @inlinable public var count: Int { entries.count }
    @inlinable public var isEmpty: Bool { entries.isEmpty }
    /// When the earliest timer is due, if any is queued.
    @inlinable public var earliestDue: UInt64? { entries.first?.due }

    /// Whether `timer` is queued.
    @inlinable public func contains(_ timer: Timer) -> Bool {
        timer.heapIndex >= 0 && timer.heapIndex < entries.count && entries[timer.heapIndex].timer === timer
    }

    /// Queues `timer` to be due at `due`, moving it if it was queued already.
    @inlinable public mutating func schedule(_ timer: Timer, due: UInt64) {
        armed &+= 1
        if contains(timer) {
            // Re-armed: it may now come before or after its neighbours (at the same due time
            // it goes behind those armed earlier), so let it find its place either way.
            let i = timer.heapIndex
            entries[i].due = due
            entries[i].order = armed
            siftUp(i)
            siftDown(timer.heapIndex)
            return
        }
        entries.append(Entry(due: due, order: armed, timer: timer))
        timer.heapIndex = entries.count - 1
        siftUp(entries.count - 1)
    }

    /// Takes `timer` out; nothing happens if it is not queued.
    @inlinable public mutating func cancel(_ timer: Timer) {
        guard contains(timer) else { return }
        remove(at: timer.heapIndex)
    }

    /// Takes out and returns the earliest timer if it is due at `now`.
    @inlinable public mutating func popDue(now: UInt64) -> Timer? {
        guard let first = entries.first, first.due <= now else { return nil }
        remove(at: 0)
        return first.timer
    }

    @inlinable mutating func remove(at i: Int) {
        let removed = entries[i].timer
        let last = entries.count - 1
        if i != last {
            entries.swapAt(i, last)
            entries[i].timer.heapIndex = i
        }
        entries.removeLast()
        removed.heapIndex = -1
        if i < entries.count {
            siftDown(i)
            siftUp(i)
        }
    }

    @inlinable mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].precedes(entries[parent]) else { break }
            swap(i, parent)
            i = parent
        }
    }

    @inlinable mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1
            guard left < entries.count else { return }
            let right = left + 1
            let child = right < entries.count && entries[right].precedes(entries[left]) ? right : left
            guard entries[child].precedes(entries[i]) else { return }
            swap(i, child)
            i = child
        }
    }

    @inlinable mutating func swap(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        entries[a].timer.heapIndex = a
        entries[b].timer.heapIndex = b
    }
}
