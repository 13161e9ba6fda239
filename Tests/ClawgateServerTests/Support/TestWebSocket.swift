import Foundation
import Glibc

/// SOCK_STREAM's value on Linux, spelled out: a clean build of this target could fail to see the
/// constant in one file (which clang module owns the glibc header declaring it depends on the
/// compiler's batching), while the same line compiled in others.
let streamSocketType: Int32 = 1

/// A small blocking WebSocket client over a POSIX socket, so the in-process tests can drive
/// the hub frame by frame (and misbehave on purpose: stop reading, drop the link).
final class TestWebSocket {
    struct Failure: Error, CustomStringConvertible { var description: String }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var closeCode: UInt16?

    init(port: Int, path: String = "/v1/ws", headers: [String] = [], receiveBufferBytes: Int? = nil) throws {
        fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        if var size = receiveBufferBytes.map({ Int32($0) }) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect failed: errno \(errno)")
        }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for h in headers { request += h + "\r\n" }
        request += "\r\n"
        try sendAll(Array(request.utf8))
        let head = try readHead(timeout: 5)
        guard head.hasPrefix("HTTP/1.1 101") else {
            Glibc.close(fd)
            throw Failure(description: "upgrade refused: \(head.prefix(80))")
        }
    }

    deinit { Glibc.close(fd) }

    // MARK: - sending

    func send(text: String) throws { try sendFrame(opcode: 0x1, payload: Array(text.utf8)) }
    func send(binary: [UInt8]) throws { try sendFrame(opcode: 0x2, payload: binary) }

    func send(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try sendFrame(opcode: 0x1, payload: Array(data))
    }

    /// A clean close: close frame with 1000.
    func close() throws { try sendFrame(opcode: 0x8, payload: [0x03, 0xE8]) }

    /// Drops the TCP link with no close frame (a lost Wi-Fi link).
    func drop() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private func sendFrame(opcode: UInt8, payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(0x80 | 126)
            frame.append(contentsOf: [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)])
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        frame.append(contentsOf: mask)
        for (i, b) in payload.enumerated() { frame.append(b ^ mask[i & 3]) }
        try sendAll(frame)
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            off += n
        }
    }

    // MARK: - receiving

    /// The next text message, or nil when the server closed the connection.
    func receiveText(timeout: Double = 10) throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let (opcode, payload) = try nextFrame(deadline: deadline) {
                switch opcode {
                case 0x1: return String(decoding: payload, as: UTF8.self)
                case 0x8:
                    if payload.count >= 2 { closeCode = UInt16(payload[0]) << 8 | UInt16(payload[1]) }
                    return nil
                default: continue
                }
            } else {
                return nil
            }
        }
    }

    /// The next frame as a JSON object; fails the test when none arrives in time.
    func receiveJSON(timeout: Double = 10) throws -> [String: Any] {
        guard let text = try receiveText(timeout: timeout) else { throw Failure(description: "connection closed") }
        guard let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw Failure(description: "frame is not a JSON object: \(text)")
        }
        return obj
    }

    /// Frames until `stop` returns true for one (included).
    func receive(until stop: ([String: Any]) -> Bool, timeout: Double = 20) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        var frames: [[String: Any]] = []
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure(description: "timed out after \(frames.count) frames; last: \(frames.last ?? [:])") }
            let f = try receiveJSON(timeout: left)
            frames.append(f)
            if stop(f) { return frames }
        }
    }

    private func nextFrame(deadline: Date) throws -> (UInt8, [UInt8])? {
        guard try fill(2, deadline) else { return nil }
        let opcode = buffer[0] & 0x0F
        var len = Int(buffer[1] & 0x7F)
        var header = 2
        if len == 126 {
            guard try fill(4, deadline) else { return nil }
            len = Int(buffer[2]) << 8 | Int(buffer[3])
            header = 4
        } else if len == 127 {
            guard try fill(10, deadline) else { return nil }
            len = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
            header = 10
        }
        guard try fill(header + len, deadline) else { return nil }
        let payload = Array(buffer[header..<(header + len)])
        buffer.removeFirst(header + len)
        return (opcode, payload)
    }

    private func fill(_ n: Int, _ deadline: Date) throws -> Bool {
        while buffer.count < n {
            let ms = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, ms) > 0 else { throw Failure(description: "no data within the deadline") }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = recv(fd, &chunk, chunk.count, 0)
            if got <= 0 { return false }
            buffer.append(contentsOf: chunk[0..<got])
        }
        return true
    }

    private func readHead(timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let r = buffer.firstRange(of: [13, 10, 13, 10]) {
                let head = String(decoding: buffer[..<r.lowerBound], as: UTF8.self)
                buffer.removeFirst(r.upperBound)
                return head
            }
            let before = buffer.count
            _ = try fill(before + 1, deadline)
            if buffer.count == before { throw Failure(description: "connection closed during the handshake") }
        }
    }
}
