import ArgumentParser
import ClawgateCore
import ClawgateServer
import Foundation

@main
struct Clawgate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clawgate",
        abstract: "A personal AI gateway: one small process between your clients and your AI providers.",
        subcommands: [Serve.self, Check.self])
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the gateway.")

    @Option(name: .long, help: "The YAML configuration file. Without it, providers are found from the environment.")
    var config: String?

    @Option(name: .long, help: "HOST:PORT to listen on (overrides the file's `listen`). Port 0 picks a free port.")
    var listen: String?

    @Option(name: .long, help: "Folder of static files served at / (default ./web, else web/ beside the executable).")
    var web: String?

    @Flag(name: .long, help: "Allow listening on a non-loopback address without credentials.")
    var insecure = false

    func run() throws {
        var (cfg, notes) = try loadConfiguration(path: config)
        if let listen {
            guard let address = ListenAddress.parse(listen) else {
                throw ValidationError("--listen '\(listen)' is not HOST:PORT (for example 127.0.0.1:8787)")
            }
            cfg.listen = address
        }
        if !cfg.listen.isLoopback && !insecure {
            // This build has no credentials yet, so any non-loopback address would be an open door.
            throw ValidationError("refusing to listen on \(cfg.listen): no credentials are configured, so anyone on the network could use your providers. Listen on 127.0.0.1, or pass --insecure if that is really what you want.")
        }
        for note in notes { FileHandle.standardError.write(Data("clawgate: \(note)\n".utf8)) }
        try ServeProcess.run(GatewayOptions(config: cfg, webRoot: WebRoot.find(explicit: web), notes: notes))
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a configuration file; print what is wrong and exit non-zero.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        let (cfg, _) = try loadConfiguration(path: config)
        print("ok: \(cfg.providers.count) provider(s), \(cfg.models.count) model alias(es), listen \(cfg.listen)")
    }
}

/// Loads the file (or the environment) and turns config errors into a non-zero exit with
/// one line per problem.
func loadConfiguration(path: String?) throws -> (GatewayConfig, [String]) {
    let env = ProcessInfo.processInfo.environment
    guard let path else {
        let found = ConfigLoader.fromEnvironment(env)
        return (found.config, found.notes)
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read the configuration file '\(path)'")
    }
    do {
        return (try ConfigLoader.load(yaml: String(decoding: data, as: UTF8.self), environment: env), [])
    } catch {
        FileHandle.standardError.write(Data("\(path): the configuration has errors:\n\(error.description)\n".utf8))
        throw ExitCode(2)
    }
}
