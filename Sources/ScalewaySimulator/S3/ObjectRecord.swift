import Foundation

/// What the store persists about one object (`meta/<sha256(key)>.json`).
struct ObjectRecord: Codable, Sendable {
    var key: String
    var size: Int64
    /// Unquoted ETag: `<md5>` or `<md5-of-md5s>-N`.
    var etag: String
    var contentType: String
    var lastModified: Date
    /// The data file's name inside the bucket's `data` directory.
    var dataFile: String
    /// `x-amz-meta-*` headers (lowercased names without the prefix) and the
    /// stored representation headers (Content-Disposition, Cache-Control...).
    var metadata: [String: String]
    /// Number of parts for multipart objects.
    var partCount: Int?
    /// Each part's size, in order, for multipart objects (`GET ?partNumber=`).
    var partSizes: [Int64]?
}

/// One in-progress multipart upload as persisted (`multipart/<id>/upload.json`).
struct MultipartRecord: Codable, Sendable {
    var uploadID: String
    var bucket: String
    var key: String
    var contentType: String
    var metadata: [String: String]
    var initiated: Date
    /// The stride of the parts' slots in the upload's assembly file, fixed by
    /// the first part of at least 5 MiB placed there (`nil` until then).
    var slotSize: Int64? = nil
}

/// One uploaded part (`multipart/<id>/part-<n>.json`).
struct PartRecord: Codable, Sendable {
    var number: Int
    var size: Int64
    /// Unquoted MD5 hex.
    var etag: String
    var lastModified: Date
    /// The part's own file in the upload directory, or ``ObjectStore/assemblyFile``
    /// when the part sits in its slot of the assembly file (at `offset`).
    var dataFile: String
    /// Where the part starts in the assembly file; `nil` for a part in a file of its own.
    var offset: Int64? = nil
}

/// A multipart upload in progress, as listed by `GET /_sim/state`.
public struct MultipartUploadInfo: Sendable, Equatable {
    public var uploadID: String
    public var bucket: String
    public var key: String
    public var initiated: Date
    public var partCount: Int
    public var bytes: Int64
}
