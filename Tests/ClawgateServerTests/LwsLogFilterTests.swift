import CLws
import LwsLogFilter
import Testing

/// The log filter in front of lws's `_lws_log`: bound where lws calls it, and never out of step
/// with the level lws itself logs at. (That visible lines still come out is checked on the real
/// binary: `test_serve_on_a_taken_port_reports_lws_errors` in tests/e2e.)
@Suite struct LwsLogFilterTests {
    @Test func lwsCallsReachTheFilter() {
        // lws calls _lws_log through its PLT: the process-wide definition is the one it gets.
        #expect(clawgate_lws_log_filter_bound() == 1)
    }

    @Test func theMirroredLevelIsTheOneLwsLogsAt() {
        // Every caller in this process (gateways, simulators) sets LLL_ERR, so this test can
        // set it too while others run, and both views must agree on every level bit.
        lws_set_log_level(LLL_ERR, nil)
        let mirrored = clawgate_lws_log_level()
        #expect(mirrored == LLL_ERR)
        for bit in 0..<12 {
            let level = Int32(1) << Int32(bit)
            #expect((mirrored & level != 0) == (lwsl_visible(level) != 0), "level bit \(bit)")
        }
    }
}
