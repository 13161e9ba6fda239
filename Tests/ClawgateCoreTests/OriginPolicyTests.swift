import ClawgateCore
import Testing

struct OriginPolicyTests {
    @Test func requestsWithoutAnOriginAreNotFromABrowserAndAreAllowed() {
        #expect(OriginPolicy().allows(origin: nil, host: "127.0.0.1:8787"))
        #expect(OriginPolicy().allows(origin: "", host: "127.0.0.1:8787"))
    }

    @Test func theGatewaysOwnOriginIsAllowed() {
        let p = OriginPolicy()
        #expect(p.allows(origin: "http://127.0.0.1:8787", host: "127.0.0.1:8787"))
        #expect(p.allows(origin: "HTTP://LOCALHOST:8787/", host: "localhost:8787"))
        #expect(p.allows(origin: "https://gw.example:443", host: "gw.example:443"))
    }

    @Test func anyOtherOriginIsRefused() {
        let p = OriginPolicy()
        #expect(!p.allows(origin: "http://evil.example", host: "127.0.0.1:8787"))
        #expect(!p.allows(origin: "http://127.0.0.1:9999", host: "127.0.0.1:8787"))
        #expect(!p.allows(origin: "null", host: "127.0.0.1:8787"))
        #expect(!p.allows(origin: "http://127.0.0.1:8787", host: nil))
    }

    @Test func configuredOriginsAreAddedToTheOwnOne() {
        let p = OriginPolicy(allowed: ["http://app.example:3000/"])
        #expect(p.allows(origin: "http://app.example:3000", host: "127.0.0.1:8787"))
        #expect(!p.allows(origin: "http://app.example:3001", host: "127.0.0.1:8787"))
    }
}
