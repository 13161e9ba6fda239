/// A frame a client sent on the WebSocket hub (PROTOCOL.md section 3), validated.
public enum ClientFrame: Sendable, Equatable {
    case hello(token: String?, resume: ResumeRequest?)
    /// `id` is nil when the client left it out; the session assigns `r1`, `r2`, ….
    case chat(id: String?, request: ChatRequest)
    case cancel(id: String)
    /// The whole frame object; the answer is the same object with `type` set to `pong`.
    case ping(JSONValue)
    case subscribe(topic: SubscriptionTopic, intervalMs: Int?)
    case unsubscribe(topic: SubscriptionTopic)
    /// A frame type of the contract this build does not serve yet (`speech`, `image`).
    case unsupported(type: String, id: String?)
}

public struct ResumeRequest: Sendable, Equatable {
    public var session: String
    public var lastSeq: Int

    public init(session: String, lastSeq: Int) {
        self.session = session
        self.lastSeq = lastSeq
    }
}

public enum SubscriptionTopic: String, Sendable, CaseIterable {
    case metrics, alerts, requests
}

/// A frame that failed validation: the error to send back, and the request `id` it concerned
/// when the frame carried a usable one.
public struct FrameError: Error, Sendable, Equatable {
    public var id: String?
    public var error: GatewayError

    public init(id: String?, error: GatewayError) {
        self.id = id
        self.error = error
    }
}
