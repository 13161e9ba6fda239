import ClawgateCore
import Testing

struct UnansweredStartsTests {
    @Test func nothingStartedIsNeverOverdue() {
        let u = UnansweredStarts(budgetUs: 250)
        #expect(u.oldestUs == nil)
        #expect(!u.overdue(atUs: 0))
        #expect(!u.overdue(atUs: .max))
    }

    /// The budget runs from the oldest start since the last look: later starts do not push it
    /// back, or a steady stream of chats would never let the loop look.
    @Test func theBudgetRunsFromTheOldestStart() {
        var u = UnansweredStarts(budgetUs: 250)
        u.started(atUs: 1_000)
        u.started(atUs: 1_200)
        #expect(u.oldestUs == 1_000)
        #expect(!u.overdue(atUs: 1_249))
        #expect(u.overdue(atUs: 1_250))
        #expect(u.overdue(atUs: 9_000))
    }

    @Test func lookingStartsOver() {
        var u = UnansweredStarts(budgetUs: 250)
        u.started(atUs: 1_000)
        u.looked()
        #expect(!u.overdue(atUs: 5_000))
        u.started(atUs: 5_000)
        #expect(!u.overdue(atUs: 5_100))
        #expect(u.overdue(atUs: 5_250))
    }

    @Test func aZeroBudgetIsOverdueAtOnceAndAClockThatStepsBackIsNot() {
        var u = UnansweredStarts(budgetUs: 0)
        u.started(atUs: 7)
        #expect(u.overdue(atUs: 7))
        #expect(!u.overdue(atUs: 6))
    }
}
