import Foundation
import Glibc

/// A bare HTTP/1.1 upstream on a loopback socket that answers every request with one fixed
/// OpenAI chat completion stream, and can hang up after each answer the way a provider's idle timeout
/// does. Counts the connections it accepted. Blocking, on its own thread.
final class ScriptedUpstream: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let hangUpAfterEachAnswer: Bool
    private let lock = NSLock()
    private var accepted = 0
    private var received = 0

    var connections: Int { lock.withLock { accepted } }
    /// Requests read; counted before the answer is written, so a client holding the answer
    /// sees its request counted.
    var requests: Int { lock.withLock { received } }

    static let reply = "scripted reply"

    init(hangUpAfterEachAnswer: Bool) throws {
        self.hangUpAfterEachAnswer = hangUpAfterEachAnswer
        let listener = socket(AF_INET, streamSocketType, 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(listener, p, len) == 0 && listen(listener, 16) == 0 && getsockname(listener, p, &len) == 0
            }
        }
        guard bound else {
            close(listener)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Closes the listener; connections still open end when their peer leaves.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            lock.withLock { accepted += 1 }
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            // One request: a head, then content-length bytes of body.
            var request: (head: Int, body: Int)?
            while request == nil {
                if let end = headEnd(pending) {
                    let head = String(decoding: pending[..<end], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if pending.count >= end + 4 + length { request = (end + 4, length) ; break }
                }
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { return }
                pending.append(contentsOf: buffer[0..<n])
            }
            pending.removeFirst(request!.head + request!.body)
            // The gateway always asks for a stream upstream.
            let chunk = #"{"id":"chatcmpl-s","object":"chat.completion.chunk","created":1,"model":"scripted","choices":[{"index":0,"#
            let body = "data: " + chunk + #""delta":{"role":"assistant","content":"\#(Self.reply)"},"finish_reason":null}]}"# + "\n\n"
                + "data: " + chunk + #""delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"# + "\n\n"
                + "data: [DONE]\n\n"
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
            lock.withLock { received += 1 }
            let sent = answer.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            guard sent > 0 else { return }
            if hangUpAfterEachAnswer { return }
        }
    }

    private func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}
