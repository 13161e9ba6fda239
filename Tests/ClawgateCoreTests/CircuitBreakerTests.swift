import Testing
@testable import ClawgateCore

@Suite struct CircuitBreakerTests {
    @Test func opensAfterFiveConsecutiveFailures() {
        var b = CircuitBreaker()
        for i in 0..<4 {
            b.recordFailure(at: Double(i))
            #expect(b.state(at: Double(i)) == .closed)
        }
        b.recordFailure(at: 10)
        #expect(b.state(at: 10) == .open)
        #expect(!b.canAdmit(at: 10))
        #expect(b.remainingOpenMs(at: 1010) == 29_000)
    }

    @Test func successResetsTheCount() {
        var b = CircuitBreaker()
        for i in 0..<4 { b.recordFailure(at: Double(i)) }
        b.recordSuccess(at: 5)
        for i in 0..<4 { b.recordFailure(at: Double(10 + i)) }
        #expect(b.state(at: 20) == .closed)
        #expect(b.consecutiveFailures == 4)
    }

    @Test func halfOpenAdmitsOneTrialThatClosesOnSuccess() {
        var b = CircuitBreaker(failureThreshold: 2, openDurationMs: 1000)
        b.recordFailure(at: 0)
        b.recordFailure(at: 0)
        #expect(b.state(at: 999) == .open)
        #expect(b.state(at: 1000) == .halfOpen)
        #expect(b.canAdmit(at: 1000))
        b.recordAdmitted(at: 1000)
        #expect(!b.canAdmit(at: 1001))
        b.recordSuccess(at: 1200)
        #expect(b.state(at: 1200) == .closed)
        #expect(b.canAdmit(at: 1200))
    }

    @Test func trialFailureOpensAgainForAFullPeriod() {
        var b = CircuitBreaker(failureThreshold: 1, openDurationMs: 1000)
        b.recordFailure(at: 0)
        b.recordAdmitted(at: 1500)
        b.recordFailure(at: 1600)
        #expect(b.state(at: 2599) == .open)
        #expect(b.state(at: 2600) == .halfOpen)
    }

    @Test func cancelledTrialFreesTheSlot() {
        var b = CircuitBreaker(failureThreshold: 1, openDurationMs: 10)
        b.recordFailure(at: 0)
        b.recordAdmitted(at: 10)
        #expect(!b.canAdmit(at: 11))
        b.recordCancelled(at: 12)
        #expect(b.canAdmit(at: 12))
        #expect(b.state(at: 12) == .halfOpen)
    }
}
