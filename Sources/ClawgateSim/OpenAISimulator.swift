import CLws
import Dispatch
import Glibc

/// A deterministic OpenAI Chat Completions server for tests and benchmarks. The reply is chosen
/// by the requested model name (`sim-t100-d20`, `sim-e429`, `sim-cut3`, ...; see README).
/// It owns one lws context on its own service thread; other threads only read `stats` and call
/// `stop()`.
public final class OpenAISimulator: @unchecked Sendable {
    public let options: SimulatorOptions
    private let shared = SimulatorSharedState()
    /// Guards `thread` and `context` (start/stop may come from any thread).
    private let lifecycle = PthreadMutex()
    private var thread: pthread_t?
    private var context: OpaquePointer?

    public init(options: SimulatorOptions = SimulatorOptions()) {
        self.options = options
    }

    deinit { stop() }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts the service thread and returns the bound port once it listens.
    public func start() throws -> Int {
        let startup = Startup(server: SimulatorServer(options: options, shared: shared))
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let startup = Unmanaged<Startup>.fromOpaque(arg!).takeRetainedValue()
            startup.run()
            return nil
        }, Unmanaged.passRetained(startup).toOpaque())
        guard rc == 0 else { throw StartError(description: "pthread_create failed: \(rc)") }
        startup.ready.wait()
        switch startup.result {
        case .success(let port):
            lifecycle.withLock {
                thread = tid
                context = startup.context
            }
            return port
        case .failure(let e):
            pthread_join(tid, nil)
            throw StartError(description: "\(e)")
        case nil:
            pthread_join(tid, nil)
            throw StartError(description: "simulator thread ended before listening")
        }
    }

    /// Stops the loop, closes every connection and joins the thread. Safe to call twice.
    public func stop() {
        let (tid, ctx): (pthread_t?, OpaquePointer?) = lifecycle.withLock {
            defer { thread = nil; context = nil }
            return (thread, context)
        }
        guard let tid else { return }
        shared.requestStop()
        if let ctx { lws_cancel_service(ctx) }
        pthread_join(tid, nil)
    }

    public var stats: SimulatorStats { shared.snapshot }

    public func resetStats() { shared.reset() }
}

/// Hands the listen result from the service thread back to `start()`.
private final class Startup: @unchecked Sendable {
    let server: SimulatorServer
    let ready = DispatchSemaphore(value: 0)
    /// Written by the service thread before `ready.signal()`, read by `start()` after `wait()`.
    var result: Result<Int, Error>?
    var context: OpaquePointer?

    init(server: SimulatorServer) { self.server = server }

    func run() {
        do {
            let port = try server.listen()
            context = server.context
            result = .success(port)
        } catch {
            result = .failure(error)
            server.tearDown()
            ready.signal()
            return
        }
        ready.signal()
        server.serve()
        server.tearDown()
    }
}
