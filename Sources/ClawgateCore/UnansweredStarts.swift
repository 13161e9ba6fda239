/// How long the upstream requests sent in one loop turn have gone without the loop looking for
/// their answers.
///
/// A turn serves every client socket its wait reported before it looks at the upstream set
/// again. When many chats arrive together one turn starts dozens of them, a millisecond or
/// more of work, and the first request's answer sits unread until the last has been started:
/// its time to first token grows with the turn's work, not with its own. The loop asks this
/// after each chat frame and each REST body and collects the upstream set once `budgetUs` has
/// passed since the oldest unanswered start. Pure: the caller passes the clock.
public struct UnansweredStarts: Sendable {
    public let budgetUs: UInt64
    /// When the oldest request sent since the last look was started; nil when there is none.
    public private(set) var oldestUs: UInt64?

    public init(budgetUs: UInt64) {
        self.budgetUs = budgetUs
    }

    /// A request was sent at `nowUs`.
    public mutating func started(atUs nowUs: UInt64) {
        if oldestUs == nil { oldestUs = nowUs }
    }

    /// Whether the answers should be looked for now: a request has waited `budgetUs` or more.
    public func overdue(atUs nowUs: UInt64) -> Bool {
        guard let oldestUs else { return false }
        return nowUs >= oldestUs && nowUs - oldestUs >= budgetUs
    }

    /// The loop is about to look for answers (a new turn, or a collection now).
    public mutating func looked() {
        oldestUs = nil
    }
}
