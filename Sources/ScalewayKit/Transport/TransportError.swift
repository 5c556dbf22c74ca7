/// A failure below HTTP: the request could not be completed, so there is no
/// status code to look at.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// DNS or TCP connect failed: the request never reached the server.
        case connectFailed
        /// The server's certificate is not trusted by the configured CAs (or its name does not match).
        case certificateUntrusted
        /// Another TLS failure (handshake, protocol, unreadable CA file).
        case tls
        /// No progress within the connect or low-speed timeout.
        case timedOut
        /// The connection dropped after the request was (maybe) sent.
        case connectionLost
        /// The task was cancelled; the transfer was aborted.
        case cancelled
        /// The request body source failed.
        case requestBody
        /// The response was larger than the in-memory limit, or malformed.
        case response
        /// The transport was configured in a way it refuses (bad URL, TLS off on a public host...).
        case configuration
        /// Any other libcurl failure.
        case other
    }

    public var kind: Kind
    public var message: String
    /// The libcurl result code, when libcurl reported the failure.
    public var curlCode: Int?
    /// The host the request went to.
    public var host: String?
    /// Whether the request may have reached the server (false only when it
    /// provably did not, e.g. the TCP connection was refused). Non-idempotent
    /// calls are only retried when this is false.
    public var requestMayHaveBeenSent: Bool
    /// A lower-level error (from a body reader or a sink), if any.
    public var underlying: (any Error)?

    public init(kind: Kind, message: String, curlCode: Int? = nil, host: String? = nil,
                requestMayHaveBeenSent: Bool = true, underlying: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.curlCode = curlCode
        self.host = host
        self.requestMayHaveBeenSent = requestMayHaveBeenSent
        self.underlying = underlying
    }

    /// Whether retrying the same request may succeed.
    public var isTransient: Bool {
        switch kind {
        case .connectFailed, .timedOut, .connectionLost: true
        default: false
        }
    }

    public var description: String {
        var text = message
        if let host { text += " (host \(host))" }
        if let curlCode { text += " [curl \(curlCode)]" }
        return text
    }
}
