/// One client WebSocket and the chat requests it carries.
///
/// Only touched on the lws service thread.
final class WSConnection {
    struct Pending {
        var intendedStart: UInt64
        var firstDelta: UInt64 = 0
        var deltas = 0
        var recorded: Bool
        var text = FNV1a()
        var textBytes = 0
    }

    let index: Int
    var wsi: OpaquePointer?
    var welcomed = false
    var closed = false
    var outbox: [[UInt8]] = []
    var pending: [String: Pending] = [:]
    var rx: [UInt8] = []
    var nextId = 0

    init(index: Int) { self.index = index }

    func newId() -> String {
        nextId += 1
        return "c\(index)-\(nextId)"
    }
}
