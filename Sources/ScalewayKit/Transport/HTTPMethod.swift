/// The HTTP methods the Scaleway APIs use.
public enum HTTPMethod: String, Sendable, Hashable {
    case get = "GET", head = "HEAD", put = "PUT", post = "POST", patch = "PATCH", delete = "DELETE"

    /// Methods whose repetition has the same effect as one call (RFC 9110
    /// section 9.2.2). Only these are retried after an ambiguous failure.
    public var isIdempotent: Bool { self != .post && self != .patch }
}
