import Foundation

/// An error answered by a Scaleway REST API (Instance or Block).
///
/// Decoded from every error shape the APIs use: the standard one
/// (`type`, `message`, `details`, `resource`, `resource_id`...) and the older
/// Instance ones (`invalid_request_error` with `fields`, `unknown_resource`
/// with only a message). A rate-limit answer has an empty body and is
/// recognised from the status. ``description`` says what happened and what to do.
public struct ScalewayAPIError: Error, Sendable, CustomStringConvertible {
    /// The error's `type`.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        case invalidArguments, invalidRequest, deniedAuthentication, permissionsDenied, quotasExceeded
        case notFound, unknownResource, transientState, preconditionFailed, locked, outOfStock
        case rateLimited, conflict, serverError
        case other(String)

        init(type: String?, status: Int) {
            switch type {
            case "invalid_arguments": self = .invalidArguments
            case "invalid_request_error": self = .invalidRequest
            case "denied_authentication", "authentication_error": self = .deniedAuthentication
            case "permissions_denied": self = .permissionsDenied
            case "quotas_exceeded": self = .quotasExceeded
            case "not_found": self = .notFound
            case "unknown_resource": self = .unknownResource
            case "transient_state": self = .transientState
            case "precondition_failed": self = .preconditionFailed
            case "resource_locked", "locked": self = .locked
            case "out_of_stock": self = .outOfStock
            case let other?: self = .other(other)
            case nil:
                switch status {
                case 429: self = .rateLimited
                case 401: self = .deniedAuthentication
                case 403: self = .permissionsDenied
                case 404: self = .notFound
                case 409: self = .conflict
                case 500...: self = .serverError
                default: self = .other("http_\(status)")
                }
            }
        }

        public var description: String {
            switch self {
            case .invalidArguments: "invalid_arguments"
            case .invalidRequest: "invalid_request_error"
            case .deniedAuthentication: "denied_authentication"
            case .permissionsDenied: "permissions_denied"
            case .quotasExceeded: "quotas_exceeded"
            case .notFound: "not_found"
            case .unknownResource: "unknown_resource"
            case .transientState: "transient_state"
            case .preconditionFailed: "precondition_failed"
            case .locked: "locked"
            case .outOfStock: "out_of_stock"
            case .rateLimited: "rate_limited"
            case .conflict: "conflict"
            case .serverError: "server_error"
            case .other(let type): type
            }
        }
    }

    /// One entry of `details[]` (invalid_arguments, permissions_denied, quotas_exceeded).
    public struct Detail: Sendable, Hashable, Decodable {
        public var argumentName: String?
        public var reason: String?
        public var helpMessage: String?
        public var resource: String?
        public var action: String?
        public var quota: Int64?
        public var current: Int64?

        enum CodingKeys: String, CodingKey {
            case argumentName = "argument_name", reason, helpMessage = "help_message", resource, action, quota, current
        }

        public init(argumentName: String? = nil, reason: String? = nil, helpMessage: String? = nil, resource: String? = nil,
                    action: String? = nil, quota: Int64? = nil, current: Int64? = nil) {
            self.argumentName = argumentName; self.reason = reason; self.helpMessage = helpMessage
            self.resource = resource; self.action = action; self.quota = quota; self.current = current
        }
    }

    public var kind: Kind
    /// The API's own message.
    public var message: String?
    public var resource: String?
    public var resourceID: String?
    public var requestID: String?
    public var httpStatus: Int
    /// Older Instance `fields{path: [messages]}`.
    public var fields: [String: [String]]
    public var details: [Detail]
    /// transient_state: the resource's current state.
    public var currentState: String?
    /// precondition_failed: which precondition (`resource_still_in_use`...).
    public var precondition: String?
    public var helpMessage: String?
    /// denied_authentication: `invalid_argument`, `not_found` or `expired`.
    public var reason: String?
    /// denied_authentication: the authentication method.
    public var method: String?
    /// The call that failed, e.g. `POST /instance/v1/zones/fr-par-1/snapshots`.
    public var operation: String?

    public init(kind: Kind, message: String? = nil, resource: String? = nil, resourceID: String? = nil,
                requestID: String? = nil, httpStatus: Int, fields: [String: [String]] = [:], details: [Detail] = [],
                currentState: String? = nil, precondition: String? = nil, helpMessage: String? = nil,
                reason: String? = nil, method: String? = nil, operation: String? = nil) {
        self.kind = kind; self.message = message; self.resource = resource; self.resourceID = resourceID
        self.requestID = requestID; self.httpStatus = httpStatus; self.fields = fields; self.details = details
        self.currentState = currentState; self.precondition = precondition; self.helpMessage = helpMessage
        self.reason = reason; self.method = method; self.operation = operation
    }

    /// The wire shape, every field optional.
    private struct Body: Decodable {
        var type: String?
        var message: String?
        var resource: String?
        var resource_id: String?
        var fields: [String: [String]]?
        var details: [Detail]?
        var current_state: String?
        var precondition: String?
        var help_message: String?
        var reason: String?
        var method: String?
    }

    /// Decodes an error response. Never fails: an unreadable body still
    /// yields an error carrying the status and request id.
    public static func decode(status: Int, body: [UInt8], requestID: String?, operation: String? = nil) -> ScalewayAPIError {
        let parsed = body.isEmpty ? nil : try? JSONDecoder().decode(Body.self, from: Data(body))
        var error = ScalewayAPIError(kind: Kind(type: parsed?.type, status: status), message: parsed?.message,
                                     resource: parsed?.resource, resourceID: parsed?.resource_id, requestID: requestID,
                                     httpStatus: status, fields: parsed?.fields ?? [:], details: parsed?.details ?? [],
                                     currentState: parsed?.current_state, precondition: parsed?.precondition,
                                     helpMessage: parsed?.help_message, reason: parsed?.reason, method: parsed?.method,
                                     operation: operation)
        if parsed == nil && !body.isEmpty && status != 429 {
            error.message = String(decoding: body.prefix(300), as: UTF8.self)
        }
        // The older Instance shape names the volume only inside the message: "Volume '<uuid>' not found".
        if error.kind == .unknownResource, error.resourceID == nil, let message = error.message,
           let open = message.firstIndex(of: "'"), let close = message[message.index(after: open)...].firstIndex(of: "'") {
            error.resourceID = String(message[message.index(after: open)..<close])
            error.resource = error.resource ?? message[..<open].trimmingCharacters(in: .whitespaces).lowercased()
        }
        return error
    }

    // MARK: Classification

    /// 404 not_found or unknown_resource.
    public var isNotFound: Bool { kind == .notFound || kind == .unknownResource || httpStatus == 404 }

    /// A 429, whose real body is empty (`X-Envoy-Ratelimited: true`): never processed, always safe to retry.
    public var isRateLimited: Bool { httpStatus == 429 }

    /// 5xx other than out_of_stock (a real answer, not a glitch).
    public var isServerError: Bool { httpStatus >= 500 && kind != .outOfStock }

    // MARK: Human message

    public var description: String {
        var text = "Scaleway API error"
        if let operation { text += " on \(operation)" }
        text += ": \(kind) (HTTP \(httpStatus))"
        if let message, !message.isEmpty { text += ": \(message)" }
        text += ". " + advice
        if let requestID { text += " [request id \(requestID)]" }
        return text
    }

    /// What to do about it.
    public var advice: String {
        let target = [resource, resourceID].compactMap { $0 }.joined(separator: " ")
        switch kind {
        case .invalidArguments:
            let args = details.map { d in
                [d.argumentName, d.reason, d.helpMessage].compactMap { $0 }.joined(separator: ": ")
            }.joined(separator: "; ")
            return "The request was rejected as invalid\(args.isEmpty ? "" : " (\(args))"); fix the named arguments."
        case .invalidRequest:
            let list = fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.joined(separator: ", "))" }.joined(separator: "; ")
            return "The request was rejected\(list.isEmpty ? "" : " (\(list))")"
                + (httpStatus == 403 ? "; a quota is reached: free resources or ask Scaleway to raise it." : "; fix the named fields.")
        case .deniedAuthentication:
            switch reason {
            case "expired": return "The API key has expired: create a new API key in the Scaleway console and update secret_key."
            case "not_found": return "The API key does not exist: check access_key and secret_key (the key may have been deleted)."
            default: return "Authentication failed: check secret_key (it must be the secret of a valid API key)."
            }
        case .permissionsDenied:
            let needs = details.map { "\($0.action ?? "?") on \($0.resource ?? "?")" }.joined(separator: ", ")
            return "The API key lacks permissions\(needs.isEmpty ? "" : " (\(needs))"): give its IAM application or user the permission "
                + "sets InstancesFullAccess and BlockStorageFullAccess in the project."
        case .quotasExceeded:
            let list = details.map { "\($0.resource ?? "?") \($0.current.map(String.init) ?? "?")/\($0.quota.map(String.init) ?? "?")" }
                .joined(separator: ", ")
            return "A quota is exceeded\(list.isEmpty ? "" : " (\(list))"): delete unused resources or ask Scaleway to raise the quota."
        case .notFound, .unknownResource:
            return "\(target.isEmpty ? "The resource" : target) does not exist in this zone and project: check the id, the zone and the project."
        case .transientState:
            return "\(target.isEmpty ? "The resource" : target) is busy (\(currentState ?? "in transition")): retry once it settles."
        case .preconditionFailed:
            return "A precondition failed (\(precondition ?? "unknown"))\(helpMessage.map { ": \($0)" } ?? ""); "
                + "for resource_still_in_use, detach or delete what uses it first."
        case .locked:
            return "\(target.isEmpty ? "The resource" : target) is locked by Scaleway (e.g. for abuse or billing): contact Scaleway support."
        case .outOfStock:
            return "Scaleway has no capacity for \(resource ?? "this resource") in this zone right now: try another commercial type or zone, or retry later."
        case .rateLimited:
            return "Scaleway rate-limited the call: it was retried with backoff; lower the concurrency if this persists."
        case .conflict:
            return "The request conflicts with the resource's current state: retry later."
        case .serverError:
            return "Scaleway had an internal error: retry later; if it persists, contact Scaleway support with the request id."
        case .other:
            return "Unexpected answer: retry, and report it with the request id if it persists."
        }
    }
}
