import ArgumentParser
import CCurl
import Glibc

/// Flags every load mode shares.
struct LoadOptions: ParsableArguments {
    @Option(help: "Target URL: http://HOST:PORT/v1/chat/completions (rest) or ws://HOST:PORT/v1/ws (ws, idle-ws).")
    var url: String

    @Option(help: "Model (a simulator model such as sim-t100-d20, or a gateway alias).")
    var model = "sim-t1"

    @Option(help: "Prompt text sent with each request.")
    var prompt = "hi"

    @Option(name: [.short, .long], help: "Closed loop: requests in flight at once (ws: connections).")
    var concurrency = 1

    @Option(help: "Open loop: requests started per second on a fixed schedule (ignores --concurrency for rest).")
    var rate: Double?

    @Option(name: [.short, .long], help: "Seconds to run after warm-up.")
    var duration: Double?

    @Option(name: [.short, .long], help: "Requests to run after warm-up (instead of --duration).")
    var requests: Int?

    @Option(help: "Seconds of unrecorded warm-up load first.")
    var warmup = 0.0

    @Option(help: "Run this many requests first without recording them.")
    var warmupRequests = 0

    @Option(help: "Seconds to wait for in-flight requests after the run.")
    var grace = 10.0

    @Option(help: "Open loop: cap on requests in flight (more count as 'overload' errors).")
    var maxInFlight = 5000

    @Flag(help: "Extract and hash every reply's text (costs the client a JSON parse per chunk).")
    var checkText = false

    @Option(help: "Bearer token sent with every REST request.")
    var apiKey = "bench"

    @Option(help: "Free-form label copied into the report.")
    var label = ""

    @Option(help: "Also write the JSON report to this file.")
    var json: String?

    @Flag(help: "Print only the JSON report on stdout.")
    var quiet = false

    @Option(help: "Write every recorded request's start, TTFT and latency (ms, tab-separated) to this file.")
    var trace: String?

    var plan: LoadPlan {
        LoadPlan(concurrency: max(1, concurrency), rate: rate,
                 duration: duration ?? (requests == nil ? 10 : nil), requests: requests,
                 warmup: warmup, warmupRequests: warmupRequests, grace: grace, maxInFlight: maxInFlight)
    }

    func emit(_ result: RunResult, trace requests: RequestTrace? = nil) throws {
        if let path = trace, let requests, !requests.write(to: path) { throw ValidationError("cannot write \(path)") }
        let json = result.json
        if let path = self.json {
            guard let f = fopen(path, "w") else { throw ValidationError("cannot write \(path)") }
            fputs(json + "\n", f)
            fclose(f)
        }
        if quiet { print(json) } else { print(result.table); print(json) }
        fflush(nil)
    }
}

struct Rest: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "OpenAI chat completions over HTTP (libcurl multi).")
    @OptionGroup var load: LoadOptions
    @Flag(help: "Ask for an SSE stream (`stream: true`) and count its events.")
    var stream = false

    func run() throws {
        raiseFileLimit()
        curl_global_init(Int(CURL_GLOBAL_ALL))
        let r = RestLoad(url: load.url, model: load.model, stream: stream, checkText: load.checkText,
                         prompt: load.prompt, apiKey: load.apiKey, plan: load.plan, label: load.label)
        if load.trace != nil { r.trace = RequestTrace() }
        var result = r.run()
        if stream { result.mode = "rest-sse" }
        try load.emit(result, trace: r.trace)
    }
}

struct WS: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ws", abstract: "Chats over the WebSocket hub (libwebsockets client).")
    @OptionGroup var load: LoadOptions
    @Option(help: "Connections opened at the same time while ramping up.")
    var connectParallel = 256
    @Option(help: "Closed loop: spread the connections' first chats evenly over this many seconds once all are open, so chats of equal length stay spread (steady concurrency) instead of starting in waves.")
    var stagger: Double = 0

    func run() throws {
        raiseFileLimit()
        guard let target = WSTarget(load.url) else { throw ValidationError("--url must be ws://HOST:PORT/PATH") }
        let w = WSLoad(kind: .chat, target: target, url: load.url, model: load.model, prompt: load.prompt,
                       plan: load.plan, checkText: load.checkText, connections: max(1, load.concurrency),
                       connectParallel: connectParallel, hold: 0, label: load.label, stagger: stagger)
        if load.trace != nil { w.trace = RequestTrace() }
        let result = w.run()
        try load.emit(result, trace: w.trace)
    }
}

struct IdleWS: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-ws", abstract: "Open N hub sessions, wait for each welcome, hold them idle.")
    @OptionGroup var load: LoadOptions
    @Option(help: "Sessions to open.")
    var sessions = 1000
    @Option(help: "Seconds to hold them once all are open (prints 'holding N sessions' on stderr when they are).")
    var hold = 5.0
    @Option(help: "Connections opened at the same time while ramping up.")
    var connectParallel = 256

    func run() throws {
        raiseFileLimit()
        guard let target = WSTarget(load.url) else { throw ValidationError("--url must be ws://HOST:PORT/PATH") }
        guard load.trace == nil else { throw ValidationError("--trace records requests; idle-ws makes none") }
        let w = WSLoad(kind: .idle, target: target, url: load.url, model: load.model, prompt: load.prompt,
                       plan: load.plan, checkText: false, connections: sessions,
                       connectParallel: connectParallel, hold: hold, label: load.label)
        try load.emit(w.run())
    }
}

/// Many sessions need many descriptors: lift the soft limit to the hard one.
func raiseFileLimit() {
    var lim = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
    lim.rlim_cur = lim.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
}

struct ClawgateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawgate-bench",
        abstract: "Load generator for OpenAI-compatible servers and the Clawgate WebSocket hub.",
        subcommands: [Rest.self, WS.self, IdleWS.self])
}

ClawgateBench.main()
