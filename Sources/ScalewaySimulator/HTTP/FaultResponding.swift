import Foundation

/// A handler that shapes the error responses of injected faults the way its
/// service really answers them (S3 answers `SlowDown` XML where the REST APIs
/// answer an empty 429).
///
/// Handlers that do not adopt it get ``ScalewayAPIFaultResponses``.
public protocol FaultResponding: Sendable {
    /// The response for a ``FaultRule/Action/rateLimit`` or
    /// ``FaultRule/Action/status`` fault on `request`.
    func faultResponse(for rule: FaultRule, request: HTTPRequest, requestID: String) -> HTTPResponse
}

/// Fault responses of the Scaleway REST APIs (Instance, Block).
public struct ScalewayAPIFaultResponses: FaultResponding {
    public init() {}

    public func faultResponse(for rule: FaultRule, request: HTTPRequest, requestID: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.set("X-Request-Id", requestID)
        switch rule.action {
        case .rateLimit:
            // A real 429 has an empty body, this header, and no Retry-After.
            headers.set("X-Envoy-Ratelimited", "true")
            return HTTPResponse(status: 429, headers: headers)
        default:
            let status = rule.status ?? 503
            let body: String
            switch status {
            case 503: body = #"{"message":"service is unavailable, please retry","type":"service_unavailable"}"#
            case 502: body = #"{"message":"bad gateway","type":"bad_gateway"}"#
            case 504: body = #"{"message":"gateway timeout","type":"gateway_timeout"}"#
            default: body = #"{"message":"internal error","type":"internal_error"}"#
            }
            return .json(status, Array(body.utf8), headers: headers)
        }
    }
}
