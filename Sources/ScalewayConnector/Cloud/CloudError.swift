/// A failure of a Scaleway call, classified for the connector.
///
/// Client adapters translate their library's errors into this type so the
/// flows can decide (retry, report, ignore a 404 on cleanup) without
/// knowing the library.
public struct CloudError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Category: String, Sendable {
        /// 401 `denied_authentication`; ``reason`` is `invalid_argument`, `not_found` or `expired`.
        case authentication
        /// 403 `permissions_denied` (or S3 AccessDenied).
        case permission
        /// 403 `quotas_exceeded`.
        case quota
        /// 404.
        case notFound
        /// 409 `transient_state`, 412, 423.
        case conflict
        /// 400 `invalid_arguments` / `invalid_request_error`.
        case invalidRequest
        /// 429 after the client's retries.
        case rateLimited
        /// 5xx after the client's retries.
        case server
        /// Connection refused, reset, timeout, TLS.
        case transport
        /// 403 `RequestTimeTooSkewed`: the local clock is more than 15 min
        /// away from Object Storage's (``message`` says by how much).
        case clockSkew
    }

    public var category: Category
    public var status: Int?
    /// The API's `message` (or S3 `Message`).
    public var message: String
    /// `denied_authentication.reason`, `precondition`, S3 `Code`...
    public var reason: String?
    /// `resource` of a not_found / permission answer.
    public var resource: String?
    public var requestID: String?

    public init(_ category: Category, status: Int? = nil, message: String, reason: String? = nil,
                resource: String? = nil, requestID: String? = nil) {
        self.category = category
        self.status = status
        self.message = message
        self.reason = reason
        self.resource = resource
        self.requestID = requestID
    }

    public var description: String {
        var s = "\(status.map { "HTTP \($0) " } ?? "")\(category.rawValue): \(message)"
        if let reason { s += " (\(reason))" }
        if let requestID { s += " [request \(requestID)]" }
        return s
    }
}
