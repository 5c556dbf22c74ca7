/// A byte range of an object: `length` bytes from `offset`, or to the end when `length` is nil.
public struct ByteRange: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int64
    public var length: Int64?

    public init(offset: Int64, length: Int64? = nil) {
        precondition(offset >= 0 && (length ?? 0) >= 0, "invalid byte range")
        self.offset = offset
        self.length = length
    }

    /// The last byte included, when bounded.
    public var lastByte: Int64? { length.map { offset + $0 - 1 } }

    /// The `Range` header value, e.g. `bytes=0-9`.
    public var headerValue: String { "bytes=\(offset)-\(lastByte.map(String.init) ?? "")" }

    public var description: String { headerValue }
}

/// What HEAD (or the head of a GET) says about an object.
public struct ObjectMetadata: Sendable, Hashable {
    /// Size of the whole object in bytes.
    public var contentLength: Int64
    /// The ETag with its quotes removed. A multipart ETag (`...-22`) is not an MD5: never compare it to one.
    public var etag: String?
    public var contentType: String?
    public var lastModified: String?
    public var storageClass: String?
    /// `x-amz-meta-*` user metadata, names without the prefix, lowercased.
    public var userMetadata: [String: String]

    public init(contentLength: Int64, etag: String?, contentType: String? = nil, lastModified: String? = nil,
                storageClass: String? = nil, userMetadata: [String: String] = [:]) {
        self.contentLength = contentLength; self.etag = etag; self.contentType = contentType
        self.lastModified = lastModified; self.storageClass = storageClass; self.userMetadata = userMetadata
    }

    init(head: HTTPResponseHead, contentLength: Int64) {
        var meta: [String: String] = [:]
        for field in head.headers where field.name.lowercased().hasPrefix("x-amz-meta-") {
            meta[String(field.name.lowercased().dropFirst("x-amz-meta-".count))] = field.value
        }
        self.init(contentLength: contentLength, etag: head.headers["etag"].map(unquoted), contentType: head.headers["content-type"],
                  lastModified: head.headers["last-modified"], storageClass: head.headers["x-amz-storage-class"], userMetadata: meta)
    }
}

/// One object of a listing.
public struct ObjectSummary: Sendable, Hashable {
    public var key: String
    public var size: Int64
    public var etag: String?
    public var lastModified: String?
    public var storageClass: String?
}

/// One page of ListObjectsV2.
public struct ListObjectsPage: Sendable, Hashable {
    public var objects: [ObjectSummary]
    /// With a delimiter: the "directories" under the prefix.
    public var commonPrefixes: [String]
    public var isTruncated: Bool
    /// Pass back to get the next page.
    public var nextContinuationToken: String?
}

/// An upload started and neither completed nor aborted (billed until aborted).
public struct MultipartUploadSummary: Sendable, Hashable {
    public var key: String
    public var uploadID: String
    public var initiated: String?
}

/// A part as CompleteMultipartUpload lists it.
public struct CompletedPart: Sendable, Hashable {
    public var partNumber: Int
    public var etag: String
    public var size: Int64

    public init(partNumber: Int, etag: String, size: Int64) {
        self.partNumber = partNumber; self.etag = etag; self.size = size
    }
}

/// The outcome of an upload.
public struct UploadResult: Sendable, Hashable {
    /// The object's ETag (quotes removed).
    public var etag: String?
    /// Bytes uploaded, verified against the stored object's length.
    public var size: Int64
    /// Number of parts (0 for a single PUT).
    public var partCount: Int
}

/// A key DeleteObjects could not delete.
public struct DeleteFailure: Sendable, Hashable {
    public var key: String
    public var code: String
    public var message: String?
}

func unquoted(_ etag: String) -> String {
    var text = Substring(etag)
    if text.hasPrefix("W/") { text = text.dropFirst(2) }
    if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
    return String(text)
}

/// Parses `Content-Range: bytes a-b/total` into (a, b, total?).
func parseContentRange(_ value: String) -> (first: Int64, last: Int64, total: Int64?)? {
    guard value.hasPrefix("bytes ") else { return nil }
    let spec = value.dropFirst("bytes ".count)
    let slash = spec.split(separator: "/", maxSplits: 1)
    guard let rangePart = slash.first else { return nil }
    let bounds = rangePart.split(separator: "-", maxSplits: 1)
    guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]) else { return nil }
    let total = slash.count == 2 ? Int64(slash[1]) : nil
    return (first, last, total)
}
