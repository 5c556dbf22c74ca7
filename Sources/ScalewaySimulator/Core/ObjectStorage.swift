import Foundation

/// Facts about a stored object.
public struct StoredObject: Sendable, Equatable {
    public var bucket: String
    public var key: String
    public var size: Int64
    /// Quoted ETag as S3 returns it (`"<md5>"` or `"<md5-of-md5s>-N"`).
    public var etag: String
    public var contentType: String
    public var lastModified: Date
    /// The file holding the object's bytes (read-only for callers).
    public var path: String

    public init(bucket: String, key: String, size: Int64, etag: String, contentType: String,
                lastModified: Date, path: String) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.lastModified = lastModified
        self.path = path
    }
}

/// A bucket of the simulated account.
public struct BucketInfo: Sendable, Equatable, Codable {
    public var name: String
    /// Region, e.g. `fr-par`.
    public var region: String
    public var projectID: String

    public init(name: String, region: String, projectID: String) {
        self.name = name
        self.region = region
        self.projectID = projectID
    }
}

/// The Object Storage back end as the Instance and Block services use it
/// for exports (writing images) and imports (reading them).
///
/// Implemented by the S3 side; thread-safe.
public protocol ObjectStorage: Sendable {
    func bucket(named name: String) -> BucketInfo?
    func object(bucket: String, key: String) -> StoredObject?
    /// Stores `file`'s bytes as the object (the file is moved or copied in).
    /// `partSize`, when set, stores it as a multipart object with that part
    /// size (ETag `-N`), as the real exports of large images are.
    @discardableResult
    func putObject(bucket: String, key: String, contentsOf file: String, contentType: String,
                   partSize: Int64?) throws -> StoredObject
    func deleteObject(bucket: String, key: String)
}
