import Foundation

/// An IAM API key of the simulated account.
///
/// The REST APIs authenticate with `X-Auth-Token: <secret_key>`; Object
/// Storage authenticates with SigV4 using `access_key` and the same secret.
public struct APIKey: Sendable, Codable, Equatable {
    public var accessKey: String
    public var secretKey: String
    /// The key's preferred project (Object Storage uses it).
    public var projectID: String
    /// IAM permission sets, e.g. `InstancesFullAccess`.
    public var permissionSets: Set<String>
    public var expiresAt: Date?
    public var description: String?

    public init(accessKey: String, secretKey: String, projectID: String, permissionSets: Set<String>,
                expiresAt: Date? = nil, description: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.projectID = projectID
        self.permissionSets = permissionSets
        self.expiresAt = expiresAt
        self.description = description
    }

    public func isExpired(at now: Date = Date()) -> Bool { expiresAt.map { $0 <= now } ?? false }

    /// The permission sets Scaleway documents for this connector.
    public static let allPermissionSets: Set<String> = [
        "InstancesFullAccess", "BlockStorageFullAccess",
        "ObjectStorageBucketsRead", "ObjectStorageBucketsWrite",
        "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite",
    ]
}

/// Looks keys up for both authentication schemes. Thread-safe.
public protocol KeyDirectory: Sendable {
    func key(accessKey: String) -> APIKey?
    func key(secretKey: String) -> APIKey?
}
