import Foundation

/// An error answer of the Scaleway REST APIs, with the exact body shapes
/// the real service sends (see the API reference's error table).
struct APIError: Error {
    var status: Int
    /// The JSON body, already serialised; `nil` sends an empty body (429).
    var body: [UInt8]?
    var headers: [(String, String)] = []

    init(status: Int, body: JSONObject?, headers: [(String, String)] = []) {
        self.status = status
        self.body = body.map { JSONBody.encode($0) }
        self.headers = headers
    }

    func response() -> HTTPResponse {
        var h = HTTPHeaders()
        for (name, value) in headers { h.add(name, value) }
        guard let body else { return HTTPResponse(status: status, headers: h) }
        return .json(status, body, headers: h)
    }

    /// 404 `not_found`; `resource` is instance_server, instance_volume,
    /// instance_snapshot (Instance) or volume, snapshot (Block).
    static func notFound(_ resource: String, _ id: String) -> APIError {
        APIError(status: 404, body: ["type": "not_found", "message": "resource is not found",
                                     "resource": resource, "resource_id": id])
    }

    /// 400 `invalid_request_error` (Instance) with per-field messages.
    static func invalidRequest(_ message: String, fields: [String: [String]]? = nil, resource: String? = nil) -> APIError {
        var body: JSONObject = ["type": "invalid_request_error", "message": message]
        if let fields { body["fields"] = fields }
        if let resource { body["resource"] = resource }
        return APIError(status: 400, body: body)
    }

    /// 400 `invalid_arguments` (Block, and argument parsing everywhere).
    static func invalidArguments(_ details: [(argument: String, reason: String, help: String)]) -> APIError {
        APIError(status: 400, body: [
            "type": "invalid_arguments", "message": "invalid argument(s)",
            "details": details.map { ["argument_name": $0.argument, "reason": $0.reason, "help_message": $0.help] },
        ])
    }

    static func invalidArgument(_ argument: String, reason: String = "constraint", help: String) -> APIError {
        invalidArguments([(argument, reason, help)])
    }

    /// 401 `denied_authentication`; reason invalid_argument, not_found or expired.
    static func deniedAuthentication(_ reason: String) -> APIError {
        APIError(status: 401, body: ["type": "denied_authentication", "message": "authentication is denied",
                                     "method": "api_key", "reason": reason])
    }

    /// 403 `permissions_denied` naming the resource and action refused.
    static func permissionsDenied(resource: String, action: String) -> APIError {
        APIError(status: 403, body: ["type": "permissions_denied", "message": "insufficient permissions",
                                     "details": [["resource": resource, "action": action]]])
    }

    /// 403 `quotas_exceeded`.
    static func quotasExceeded(resource: String, quota: Int, current: Int) -> APIError {
        APIError(status: 403, body: ["type": "quotas_exceeded", "message": "quota(s) exceeded for this resource",
                                     "details": [["resource": resource, "quota": quota, "current": current]]])
    }

    /// 409 `transient_state`: the resource is busy (snapshotting, exporting, starting...).
    static func transientState(_ resource: String, _ id: String, state: String) -> APIError {
        APIError(status: 409, body: ["type": "transient_state", "message": "resource is in a transient state",
                                     "resource": resource, "resource_id": id, "current_state": state])
    }

    /// 412 `precondition_failed`.
    static func preconditionFailed(_ precondition: String, help: String) -> APIError {
        APIError(status: 412, body: ["type": "precondition_failed", "message": "precondition is not respected",
                                     "precondition": precondition, "help_message": help])
    }

    /// 429 with an empty body and `X-Envoy-Ratelimited: true`.
    static let rateLimited = APIError(status: 429, body: nil, headers: [("X-Envoy-Ratelimited", "true")])

    /// 405 for a known path with another method.
    static func methodNotAllowed() -> APIError {
        APIError(status: 405, body: ["type": "invalid_request_error", "message": "method not allowed"])
    }

    /// 404 for a path no API serves (the real gateway answers the same).
    static func unknownRoute(_ path: String) -> APIError {
        APIError(status: 404, body: ["type": "not_found", "message": "resource is not found",
                                     "resource": "route", "resource_id": path])
    }
}
