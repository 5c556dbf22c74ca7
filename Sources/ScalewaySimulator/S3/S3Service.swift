import Crypto
import Foundation
import Logging

/// Scaleway Object Storage's S3 API over an ``ObjectStore``: an
/// ``HTTPHandler`` to mount on its own ``HTTPServer``.
///
/// Path-style (`/bucket/key`) and virtual-host (`Host: bucket.s3.fr-par...`)
/// addressing; strict SigV4 (see ``SigV4Verifier``) with the payload hash
/// checked against the body; per-key permission sets and bucket ownership
/// by project; the bucket, object and multipart operations with Scaleway's
/// limits (1000 parts, 5 MiB minimum part); S3 XML errors carrying request
/// ids.
///
/// Permission sets: `ObjectStorageBucketsRead` (HeadBucket,
/// GetBucketLocation, ListBuckets), `ObjectStorageBucketsWrite`
/// (CreateBucket, DeleteBucket), `ObjectStorageObjectsRead` (GetObject,
/// HeadObject, listings of objects, parts and uploads),
/// `ObjectStorageObjectsWrite` (PutObject, CopyObject, DeleteObject(s),
/// multipart uploads).
public final class S3Service: HTTPHandler, FaultResponding {
    /// The endpoint's region, e.g. `fr-par`.
    public let region: String
    public let store: ObjectStore
    let verifier: SigV4Verifier
    let logger = Logger(label: "sim.s3")

    /// Scaleway's limits.
    static let maxParts = 1000
    static let minPartSize: Int64 = 5 << 20
    static let maxPartSize: Int64 = 5 * 1024 * 1024 * 1024
    static let maxSinglePut: Int64 = 5 * 1024 * 1024 * 1024

    /// - Parameters:
    ///   - store: where buckets and objects live.
    ///   - keys: the account's API keys (access key -> secret, permissions, project).
    ///   - region: the endpoint's region; requests signed for another are refused.
    ///   - clock: the time used for the 15-minute skew and key expiry checks.
    public init(store: ObjectStore, keys: any KeyDirectory, region: String,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.region = region
        self.verifier = SigV4Verifier(keys: keys, region: region, clock: clock)
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let requestID = Self.makeRequestID()
        let target = address(of: request)
        var response: HTTPResponse
        do {
            response = try route(request, target: target)
        } catch let error as S3Error {
            response = errorResponse(error, request: request, target: target, requestID: requestID)
        } catch {
            logger.error("s3 \(request.method) \(request.path) failed: \(error)")
            response = errorResponse(.internalError(), request: request, target: target, requestID: requestID)
        }
        response.headers.set("x-amz-request-id", requestID)
        response.headers.set("x-amz-id-2", requestID)
        if logger.isEnabled(.debug) {
            logger.debug("s3 \(request.method) \(request.path)\(Self.loggableQuery(request.rawQuery)) -> \(response.status)")
        }
        return response
    }

    public func faultResponse(for rule: FaultRule, request: HTTPRequest, requestID: String) -> HTTPResponse {
        let error: S3Error
        switch (rule.action, rule.status ?? 503) {
        case (.rateLimit, _): error = S3Error(503, "SlowDown", "Please reduce your request rate.")
        case (_, 503): error = S3Error(503, "ServiceUnavailable", "Please reduce your request rate.")
        case (_, let status): error = S3Error(status, "InternalError", "We encountered an internal error. Please try again.")
        }
        var response = errorResponse(error, request: request, target: address(of: request), requestID: requestID)
        response.headers.set("x-amz-request-id", requestID)
        response.headers.set("x-amz-id-2", requestID)
        return response
    }

    /// The query for logs, with a presigned URL's signature left out (it
    /// grants access to whoever holds it).
    static func loggableQuery(_ rawQuery: String) -> String {
        guard !rawQuery.isEmpty else { return "" }
        let items = rawQuery.split(separator: "&").map { item -> String in
            item.lowercased().hasPrefix("x-amz-signature=") ? "X-Amz-Signature=<redacted>" : String(item)
        }
        return "?" + items.joined(separator: "&")
    }

    // MARK: Addressing

    /// The bucket and key a request addresses.
    struct Target {
        var bucket: String?
        var key: String
        /// `/bucket/key` (error documents' Resource).
        var resource: String { bucket.map { "/\($0)" + (key.isEmpty ? "" : "/\(key)") } ?? "/" }
    }

    func address(of request: HTTPRequest) -> Target {
        let path = request.path
        if let bucket = virtualHostBucket(request.headers["Host"] ?? "") {
            return Target(bucket: bucket, key: String(path.drop(while: { $0 == "/" })))
        }
        let trimmed = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !trimmed.isEmpty else { return Target(bucket: nil, key: "") }
        if let slash = trimmed.firstIndex(of: "/") {
            return Target(bucket: String(trimmed[..<slash]), key: String(trimmed[trimmed.index(after: slash)...]))
        }
        return Target(bucket: trimmed, key: "")
    }

    /// `bucket` of `bucket.s3.<region>.<anything>` (port ignored).
    private func virtualHostBucket(_ host: String) -> String? {
        var name = host.lowercased()
        if !name.hasPrefix("["), let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        let marker = ".s3.\(region)"
        guard let range = name.range(of: marker), range.lowerBound > name.startIndex else { return nil }
        let rest = name[range.upperBound...]
        guard rest.isEmpty || rest.hasPrefix(".") else { return nil }
        return String(name[..<range.lowerBound])
    }

    // MARK: Routing

    private func route(_ request: HTTPRequest, target: Target) throws -> HTTPResponse {
        let auth = try verifier.verify(request)
        guard auth.projectID == auth.key.projectID else {
            throw S3Error.accessDenied("The access key cannot act in project \(auth.projectID).")
        }
        let context = S3RequestContext(request: request, auth: auth, target: target)
        let q = Set(request.queryItems.map(\.name))
        let method = request.method
        guard let bucket = target.bucket else {
            guard method == "GET" || method == "HEAD" else {
                throw S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            }
            try context.checkPayload()
            return try listBuckets(context)
        }
        if target.key.isEmpty {
            switch method {
            case "HEAD": try context.checkPayload(); return try headBucket(context, bucket)
            case "GET":
                try context.checkPayload()
                if q.contains("location") { return try bucketLocation(context, bucket) }
                if q.contains("uploads") { return try listUploads(context, bucket) }
                if let unsupported = q.first(where: Self.unsupportedSubresources.contains) {
                    throw S3Error.notImplemented("The bucket subresource ?\(unsupported) is not implemented by the simulator.")
                }
                return try listObjects(context, bucket, version2: request.query("list-type") == "2")
            case "PUT":
                if let unsupported = q.first(where: Self.unsupportedSubresources.contains) {
                    throw S3Error.notImplemented("The bucket subresource ?\(unsupported) is not implemented by the simulator.")
                }
                return try createBucket(context, bucket)
            case "DELETE": try context.checkPayload(); return try deleteBucket(context, bucket)
            case "POST" where q.contains("delete"): return try deleteObjects(context, bucket)
            default:
                throw S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            }
        }
        let key = target.key
        guard key.utf8.count <= 1024 else {
            throw S3Error(400, "KeyTooLongError", "Your key is too long")
        }
        if let unsupported = q.first(where: Self.unsupportedSubresources.contains) {
            throw S3Error.notImplemented("The object subresource ?\(unsupported) is not implemented by the simulator.")
        }
        switch method {
        case "GET":
            try context.checkPayload()
            if let uploadID = request.query("uploadId") { return try listParts(context, bucket, key, uploadID) }
            return try getObject(context, bucket, key, head: false)
        case "HEAD":
            try context.checkPayload()
            return try getObject(context, bucket, key, head: true)
        case "PUT":
            if let uploadID = request.query("uploadId") {
                guard request.headers["x-amz-copy-source"] == nil else {
                    throw S3Error.notImplemented("UploadPartCopy is not implemented by the simulator.")
                }
                return try uploadPart(context, bucket, key, uploadID)
            }
            if request.headers["x-amz-copy-source"] != nil { return try copyObject(context, bucket, key) }
            return try putObject(context, bucket, key)
        case "POST":
            if q.contains("uploads") { try context.checkPayload(); return try createUpload(context, bucket, key) }
            if let uploadID = request.query("uploadId") { return try completeUpload(context, bucket, key, uploadID) }
            throw S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        case "DELETE":
            try context.checkPayload()
            if let uploadID = request.query("uploadId") { return try abortUpload(context, bucket, key, uploadID) }
            return try deleteObject(context, bucket, key)
        default:
            throw S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        }
    }

    static let unsupportedSubresources: Set<String> = [
        "acl", "policy", "cors", "lifecycle", "tagging", "versioning", "versions", "website", "encryption",
        "object-lock", "retention", "legal-hold", "replication", "logging", "notification", "restore", "select",
        "torrent", "accelerate", "requestPayment", "analytics", "inventory", "metrics", "ownershipControls",
        "publicAccessBlock", "attributes",
    ]

    // MARK: Authorization

    /// The bucket, if the request's key holds `permission` and its project owns it.
    func authorize(_ context: S3RequestContext, bucket name: String, permission: String) throws -> BucketInfo {
        guard context.auth.key.permissionSets.contains(permission) else {
            throw S3Error.accessDenied("Access Denied: the API key lacks the \(permission) permission set.")
        }
        guard let bucket = store.bucket(named: name) else { throw S3Error.noSuchBucket(name) }
        guard bucket.projectID == context.auth.projectID else {
            throw S3Error.accessDenied("Access Denied: the bucket belongs to another project.")
        }
        guard bucket.region == region else {
            throw S3Error(301, "PermanentRedirect",
                          "The bucket you are attempting to access must be addressed using the specified endpoint.",
                          details: [("Bucket", name), ("Endpoint", "s3.\(bucket.region).scw.cloud")])
        }
        return bucket
    }

    // MARK: Responses

    func errorResponse(_ error: S3Error, request: HTTPRequest, target: Target, requestID: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        for (name, value) in error.headers { headers.set(name, value) }
        if request.method == "HEAD" { return HTTPResponse(status: error.status, headers: headers) }
        var xml = S3XMLWriter()
        xml.open("Error")
        xml.element("Code", error.code)
        xml.element("Message", error.message)
        for (name, value) in error.details { xml.element(name, value) }
        if !error.details.contains(where: { $0.0 == "Resource" }) { xml.element("Resource", target.resource) }
        xml.element("RequestId", requestID)
        xml.element("HostId", requestID)
        xml.close("Error")
        headers.set("Content-Type", "application/xml")
        return HTTPResponse(status: error.status, headers: headers, body: .bytes(xml.bytes))
    }

    static func xmlResponse(_ xml: S3XMLWriter, status: Int = 200) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.set("Content-Type", "application/xml")
        return HTTPResponse(status: status, headers: headers, body: .bytes(xml.bytes))
    }

    /// Scaleway-style request ids, e.g. `tx4b4bd55643874b48b1e87-00624d857d`:
    /// `tx`, 21 random hex digits, `-`, the Unix time as 10 hex digits.
    static func makeRequestID() -> String {
        let time = String(UInt64(Date().timeIntervalSince1970), radix: 16)
        return "tx" + Hex.encode(SecureRandom.bytes(11)).prefix(21) + "-"
            + String(repeating: "0", count: max(0, 10 - time.count)) + time
    }

    /// The Owner element S3 documents carry: Scaleway uses `<project>:<project>`.
    static func writeOwner(_ xml: inout S3XMLWriter, element: String = "Owner", projectID: String) {
        xml.open(element)
        xml.element("ID", "\(projectID):\(projectID)")
        xml.element("DisplayName", "\(projectID):\(projectID)")
        xml.close(element)
    }
}
