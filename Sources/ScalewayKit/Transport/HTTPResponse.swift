/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Hashable {
    public var status: Int
    public var headers: HTTPHeaders

    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }

    /// Scaleway's request id (`X-Request-Id`, or S3's `x-amz-request-id`), for logs and errors.
    public var requestID: String? { headers["x-request-id"] ?? headers["x-amz-request-id"] }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A complete response: the head, and the body when it was collected in
/// memory rather than streamed into a ``ResponseSink``.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    /// The collected body; empty when it went to a sink.
    public var body: [UInt8]
    /// How many body bytes were received in total (collected or streamed).
    public var bodyBytesReceived: Int64

    public var status: Int { head.status }
    public var headers: HTTPHeaders { head.headers }

    public init(head: HTTPResponseHead, body: [UInt8], bodyBytesReceived: Int64) {
        self.head = head
        self.body = body
        self.bodyBytesReceived = bodyBytesReceived
    }
}

/// Where a streamed response body goes.
///
/// When the head arrives, ``accepts`` decides whether the body streams into
/// ``write`` (typically for 2xx) or is collected into ``HTTPResponse/body``
/// (typically an error document, bounded in size). ``write`` runs on the
/// transfer thread, one piece at a time in order; it may block to apply
/// backpressure, and throwing from it aborts the transfer with that error.
public struct ResponseSink: Sendable {
    public var accepts: @Sendable (HTTPResponseHead) -> Bool
    public var write: @Sendable (UnsafeRawBufferPointer) throws -> Void

    public init(accepts: @escaping @Sendable (HTTPResponseHead) -> Bool = { $0.isSuccess },
                write: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) {
        self.accepts = accepts
        self.write = write
    }
}
