import PluginProtocol

/// Turns a failed call into the ``PluginError`` the user sees, in the
/// terms of what the connector was doing.
///
/// A permission failure names the permission set the key lacks and the
/// operation: "the key lacks BlockStorageFullAccess: cannot snapshot SBS
/// volume <id>". Secrets never appear: ``CloudError`` carries none.
enum CloudFailure {
    /// - Parameters:
    ///   - error: what the call threw.
    ///   - action: what the connector was doing, e.g. "snapshot SBS volume <id>".
    ///   - permissionSet: the IAM permission set the call needs.
    static func map(_ error: any Error, action: String, permissionSet: String? = nil) -> PluginError {
        if let plugin = error as? PluginError { return plugin }
        if error is CancellationError { return PluginError(.cancelled, "cancelled while trying to \(action)") }
        guard let cloud = error as? CloudError else {
            return PluginError(.internal, "cannot \(action): \(error)")
        }
        let cause = cloud.description
        switch cloud.category {
        case .authentication:
            let why: String
            let hint: String
            switch cloud.reason {
            case "expired":
                why = "the API key has expired"
                hint = "create a new API key in the Scaleway console and update secret_key"
            case "not_found":
                why = "the API key does not exist"
                hint = "check access_key and secret_key"
            default:
                why = "the API key was refused (wrong secret_key?)"
                hint = "check access_key and secret_key"
            }
            return PluginError(.auth, "\(why): cannot \(action)", hint: hint, cause: cause)
        case .permission:
            let set = permissionSet ?? "the needed permission set"
            return PluginError(.permission, "the key lacks \(set): cannot \(action)",
                               hint: "grant \(set) to the IAM application or user of this API key", cause: cause)
        case .quota:
            return PluginError(.quota, "a Scaleway quota is exhausted: cannot \(action)",
                               hint: "free resources or ask Scaleway for a higher quota", cause: cause)
        case .notFound:
            return PluginError(.notFound, "cannot \(action): \(cloud.resource.map { "\($0) " } ?? "")not found",
                               cause: cause)
        case .conflict:
            return PluginError(.conflict, "cannot \(action): the resource is busy or in the wrong state", cause: cause)
        case .invalidRequest:
            return PluginError(.remote, "Scaleway rejected the request: cannot \(action): \(cloud.message)", cause: cause)
        case .rateLimited:
            return PluginError(.remote, "Scaleway kept rate-limiting the requests: cannot \(action)",
                               hint: "retry later", cause: cause)
        case .server:
            return PluginError(.remote, "Scaleway failed: cannot \(action)", hint: "retry later", cause: cause)
        case .transport:
            return PluginError(.io, "network failure: cannot \(action)", cause: cause)
        case .clockSkew:
            // Not a permission problem, though S3 answers 403: say what is wrong and how to fix it.
            return PluginError(.auth, "\(cloud.message); Object Storage refuses requests signed more than 15 min "
                               + "away from its own time: cannot \(action)",
                               hint: "synchronise the system clock with NTP (e.g. timedatectl set-ntp true, chrony or ntpd), then run again",
                               cause: cause)
        }
    }

    /// Runs `body`, mapping its failure with ``map(_:action:permissionSet:)``.
    static func attempt<T>(_ action: String, permissionSet: String? = nil,
                           isolation: isolated (any Actor)? = #isolation,
                           _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw map(error, action: action, permissionSet: permissionSet) }
    }

    /// True for a 404: cleanup treats an already-gone resource as cleaned.
    static func isNotFound(_ error: any Error) -> Bool {
        (error as? CloudError)?.category == .notFound
    }

    /// True for failures a retry may cure (transport, 5xx, 429).
    static func isTransient(_ error: any Error) -> Bool {
        guard let cloud = error as? CloudError else { return false }
        return [.transport, .server, .rateLimited].contains(cloud.category)
    }
}

/// IAM permission sets, as Scaleway names them.
enum PermissionSet {
    static let instances = "InstancesFullAccess"
    static let block = "BlockStorageFullAccess"
    static let bucketsRead = "ObjectStorageBucketsRead"
    static let objectsRead = "ObjectStorageObjectsRead"
    static let objectsWrite = "ObjectStorageObjectsWrite"
}
