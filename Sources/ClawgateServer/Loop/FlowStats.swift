import Synchronization

/// Backpressure figures readable from any thread (tests, and later the metrics door).
/// Updated only when an upstream transfer pauses or resumes, never per chunk.
public final class FlowStats: Sendable {
    private let pauses = Atomic<Int>(0)
    private let resumes = Atomic<Int>(0)
    private let maxPendingAtPause = Atomic<Int>(0)

    public struct Snapshot: Sendable, Equatable {
        /// Times an upstream transfer was paused because its client had too much pending output.
        public var pauses: Int
        public var resumes: Int
        /// The most output bytes any client had pending when its upstream was paused.
        public var maxPendingBytesAtPause: Int
    }

    public var snapshot: Snapshot {
        Snapshot(pauses: pauses.load(ordering: .relaxed), resumes: resumes.load(ordering: .relaxed),
                 maxPendingBytesAtPause: maxPendingAtPause.load(ordering: .relaxed))
    }

    func paused(pendingBytes: Int) {
        pauses.add(1, ordering: .relaxed)
        if pendingBytes > maxPendingAtPause.load(ordering: .relaxed) {
            maxPendingAtPause.store(pendingBytes, ordering: .relaxed)  // single writer: the loop
        }
    }

    func resumed() { resumes.add(1, ordering: .relaxed) }
}
