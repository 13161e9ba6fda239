import ClawgateServer
import Foundation

/// Runs a gateway in the foreground until SIGINT or SIGTERM.
enum ServeProcess {
    static func run(_ options: GatewayOptions) throws {
        signal(SIGPIPE, SIG_IGN)
        // Block the stop signals before the loop thread exists, so it inherits the mask and
        // only this thread receives them (in sigwait).
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let gateway = Gateway(options: options)
        let port: Int
        do {
            port = try gateway.start()
        } catch {
            FileHandle.standardError.write(Data("clawgate: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let host = options.config.listen.host.contains(":") ? "[\(options.config.listen.host)]" : options.config.listen.host
        print("clawgate ready on http://\(host):\(port)")
        fflush(nil)
        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        gateway.stop()
        gateway.waitUntilStopped()
    }
}

import ArgumentParser

/// Where the static web UI comes from: `--web DIR`, else `./web`, else `web/` beside the
/// executable.
enum WebRoot {
    static func find(explicit: String?) -> String? {
        let fm = FileManager.default
        if let explicit { return explicit }
        let cwd = fm.currentDirectoryPath + "/web"
        if fm.fileExists(atPath: cwd + "/index.html") { return cwd }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let beside = exe.appendingPathComponent("web").path
        return fm.fileExists(atPath: beside + "/index.html") ? beside : nil
    }
}
