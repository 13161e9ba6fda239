import Glibc

/// Structured log lines on stderr: a short constant message plus `key=value` metadata.
/// Callers never put prompt text or secrets in metadata.
public struct GatewayLog: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { ["debug", "info", "warning", "error"][rawValue] }
    }

    public var minimum: Level

    public init(minimum: Level = .info) { self.minimum = minimum }

    public func log(_ level: Level, _ message: StaticString, _ metadata: KeyValuePairs<String, String> = [:]) {
        guard level >= minimum else { return }
        var line = "level=\(level.name) msg=\"\(message)\""
        for (k, v) in metadata {
            line += " \(k)="
            line += v.contains(" ") || v.isEmpty ? "\"\(v)\"" : v
        }
        line += "\n"
        var bytes = Array(line.utf8)
        // One write(2) per line, so lines from several threads never interleave.
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    public func info(_ message: StaticString, _ metadata: KeyValuePairs<String, String> = [:]) { log(.info, message, metadata) }
    public func warning(_ message: StaticString, _ metadata: KeyValuePairs<String, String> = [:]) { log(.warning, message, metadata) }
    public func error(_ message: StaticString, _ metadata: KeyValuePairs<String, String> = [:]) { log(.error, message, metadata) }
    public func debug(_ message: StaticString, _ metadata: KeyValuePairs<String, String> = [:]) { log(.debug, message, metadata) }
}
