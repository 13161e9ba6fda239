import ArgumentParser
import ClawgateSim
import Dispatch
import Glibc

/// Thin CLI: parse flags, start the simulator, wait for SIGINT/SIGTERM, stop.
struct ClawgateSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawgate-sim",
        abstract: "Deterministic OpenAI Chat Completions simulator; behaviour chosen by model name.")

    @Option(name: .long, help: "HOST:PORT to listen on (port 0 = any free port).")
    var listen = "127.0.0.1:0"

    @Option(name: .customLong("api-key-env"), help: "Name of an environment variable holding the API key to require.")
    var apiKeyEnv: String?

    func run() throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw ValidationError("--listen must be HOST:PORT, got \(listen)")
        }
        let host = String(listen[..<colon])
        var apiKey: String?
        if let name = apiKeyEnv {
            guard let value = getenv(name) else { throw ValidationError("environment variable \(name) is not set") }
            apiKey = String(cString: value)
        }
        let simulator = OpenAISimulator(options: SimulatorOptions(host: host, port: port, apiKey: apiKey))
        let bound = try simulator.start()
        print("clawgate-sim listening on \(host):\(bound)")
        fflush(nil)

        // Ignore the default action so the dispatch sources alone see the signals; park the main thread.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let stopped = DispatchSemaphore(value: 0)
        let sources = [SIGINT, SIGTERM].map { sig in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stopped.signal() }
            source.resume()
            return source
        }
        stopped.wait()
        sources.forEach { $0.cancel() }
        simulator.stop()
    }
}

ClawgateSimCommand.main()
