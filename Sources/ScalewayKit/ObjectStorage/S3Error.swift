/// An error answered by Object Storage: the S3 XML
/// `<Error><Code/><Message/><RequestId/></Error>` document, or for bodiless
/// answers (HEAD) a code derived from the status.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// The S3 error code, e.g. `NoSuchKey`, `NoSuchBucket`, `SignatureDoesNotMatch`, `SlowDown`.
    public var code: String
    public var message: String?
    public var requestID: String?
    public var hostID: String?
    public var httpStatus: Int
    public var bucket: String?
    public var key: String?
    /// The call that failed, e.g. `PUT bucket/key (UploadPart 3)`.
    public var operation: String?

    public init(code: String, message: String? = nil, requestID: String? = nil, hostID: String? = nil,
                httpStatus: Int, bucket: String? = nil, key: String? = nil, operation: String? = nil) {
        self.code = code; self.message = message; self.requestID = requestID; self.hostID = hostID
        self.httpStatus = httpStatus; self.bucket = bucket; self.key = key; self.operation = operation
    }

    /// Decodes an error response; never fails.
    static func decode(head: HTTPResponseHead, body: [UInt8], bucket: String?, key: String?, operation: String) -> S3Error {
        let document = body.isEmpty ? nil : S3XMLElement.parse(body)
        let root = document?.name == "Error" ? document : document?.child("Error")
        let code = root?.value("Code") ?? S3Error.code(forStatus: head.status, hasKey: key != nil)
        var message = root?.value("Message")
        if root == nil && !body.isEmpty { message = String(decoding: body.prefix(300), as: UTF8.self) }
        return S3Error(code: code, message: message, requestID: root?.value("RequestId") ?? head.requestID,
                       hostID: root?.value("HostId"), httpStatus: head.status, bucket: bucket, key: key, operation: operation)
    }

    static func code(forStatus status: Int, hasKey: Bool) -> String {
        switch status {
        case 301: "PermanentRedirect"
        case 400: "BadRequest"
        case 403: "AccessDenied"
        case 404: hasKey ? "NoSuchKey" : "NoSuchBucket"
        case 409: "Conflict"
        case 412: "PreconditionFailed"
        case 416: "InvalidRange"
        case 429: "SlowDown"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        default: "HTTP\(status)"
        }
    }

    public var isNotFound: Bool { httpStatus == 404 || code == "NoSuchKey" || code == "NoSuchBucket" || code == "NoSuchUpload" }

    /// Throttling and server errors: retrying later may succeed.
    public var isTransient: Bool {
        httpStatus == 429 || httpStatus >= 500 || code == "SlowDown" || code == "RequestTimeout" || code == "InternalError"
    }

    /// Answers that prove the request was not processed (safe to repeat even a non-idempotent call).
    public var provesNotProcessed: Bool { httpStatus == 429 || code == "SlowDown" || httpStatus == 503 }

    public var description: String {
        var text = "Object Storage error"
        if let operation { text += " on \(operation)" }
        text += ": \(code) (HTTP \(httpStatus))"
        if let message, !message.isEmpty { text += ": \(message)" }
        text += ". " + advice
        if let requestID { text += " [request id \(requestID)]" }
        return text
    }

    /// What to do about it.
    public var advice: String {
        switch code {
        case "SignatureDoesNotMatch": "The request signature was refused: check secret_key (it must belong to access_key)."
        case "InvalidAccessKeyId": "The access key is unknown: check access_key."
        case "AccessDenied", "AllAccessDisabled":
            "Access denied: give the API key ObjectStorageObjectsRead/Write and ObjectStorageBucketsRead in the bucket's project, and check the bucket policy."
        case "NoSuchBucket": "The bucket \(bucket ?? "") does not exist in this region: create it or fix the bucket name and zone."
        case "NoSuchKey": "The object \(key ?? "") does not exist."
        case "NoSuchUpload": "The multipart upload no longer exists (aborted or completed)."
        case "InvalidPart", "InvalidPartOrder", "BadDigest", "InvalidDigest":
            "A part was corrupted in transit or rejected: the upload was aborted; run it again."
        case "EntityTooSmall": "A multipart part was smaller than 5 MiB: this is a bug in the part-size rule."
        case "EntityTooLarge": "The object or part is too large for Object Storage (5 GB per part, 5 TB per object)."
        case "PermanentRedirect", "AuthorizationHeaderMalformed":
            "The bucket lives in another region: use a zone of the bucket's region, or a bucket in the zone's region."
        case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
            "Object Storage is busy or failing: the call was retried with backoff; retry later."
        case "QuotaExceeded": "The Object Storage quota is exceeded: free space or raise the quota."
        case "PreconditionFailed": "The object changed while it was being read: run the operation again."
        default: "Check the bucket, the key and the credentials."
        }
    }
}

/// Object Storage answered something the client cannot use (bad XML, wrong length).
public struct ObjectStorageIntegrityError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "Object Storage integrity check failed: \(message)" }
}
