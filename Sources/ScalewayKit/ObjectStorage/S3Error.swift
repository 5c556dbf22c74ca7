import Foundation

/// An error answered by Object Storage: the S3 XML
/// `<Error><Code/><Message/><RequestId/></Error>` document, or for bodiless
/// answers (HEAD) a code derived from the status.
///
/// A bodiless 403 is ambiguous (missing permission, wrong secret, or a
/// clock too far off): ``ObjectStorageClient`` resolves it from the
/// response's `Date` header and, failing that, by re-asking with a signed
/// GET whose XML error names the cause (see ``isCodeInferred``).
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
    /// True when ``code`` was derived from the HTTP status because the
    /// answer had no body (HEAD), rather than read from the server's XML.
    public var isCodeInferred: Bool = false
    /// The server's time: the error's `ServerTime`, else the response's `Date` header.
    public var serverTime: Date?
    /// When this client signed the request, by its own clock (the error's `RequestTime` otherwise).
    public var requestTime: Date?

    public init(code: String, message: String? = nil, requestID: String? = nil, hostID: String? = nil,
                httpStatus: Int, bucket: String? = nil, key: String? = nil, operation: String? = nil) {
        self.code = code; self.message = message; self.requestID = requestID; self.hostID = hostID
        self.httpStatus = httpStatus; self.bucket = bucket; self.key = key; self.operation = operation
    }

    /// Decodes an error response; never fails.
    ///
    /// - Parameter signedAt: when the request was signed (local clock). A
    ///   bodiless 403 whose `Date` header is more than 15 minutes away from
    ///   it is reported as `RequestTimeTooSkewed`, as a GET would have said.
    static func decode(head: HTTPResponseHead, body: [UInt8], bucket: String?, key: String?, operation: String,
                       signedAt: Date? = nil) -> S3Error {
        let document = body.isEmpty ? nil : S3XMLElement.parse(body)
        let root = document?.name == "Error" ? document : document?.child("Error")
        let code = root?.value("Code") ?? S3Error.code(forStatus: head.status, hasKey: key != nil)
        var message = root?.value("Message")
        if root == nil && !body.isEmpty { message = String(decoding: body.prefix(300), as: UTF8.self) }
        var error = S3Error(code: code, message: message, requestID: root?.value("RequestId") ?? head.requestID,
                            hostID: root?.value("HostId"), httpStatus: head.status, bucket: bucket, key: key, operation: operation)
        error.isCodeInferred = root?.value("Code") == nil
        error.serverTime = root?.value("ServerTime").flatMap(ClockSkew.parse) ?? head.headers["date"].flatMap(ClockSkew.parse)
        error.requestTime = signedAt ?? root?.value("RequestTime").flatMap(ClockSkew.parse)
        if error.isCodeInferred, head.status == 403, let offset = error.clockOffset, abs(offset) > ClockSkew.maximum {
            error.code = "RequestTimeTooSkewed"
            error.message = "The difference between the request time and the server's time (Date header of the bodiless 403) is too large."
        }
        return error
    }

    /// Local time minus server time when both are known (positive: the
    /// local clock is ahead).
    public var clockOffset: TimeInterval? {
        guard let serverTime, let requestTime else { return nil }
        return requestTime.timeIntervalSince(serverTime)
    }

    /// The request was refused because the local clock is too far from the server's.
    public var isClockSkew: Bool { code == "RequestTimeTooSkewed" }

    /// For a clock skew: "the local clock is 47 min ahead of Object Storage
    /// (server time ..., local time ...)", or a vaguer sentence when the
    /// server gave no time.
    public var clockSkewSummary: String {
        if let offset = clockOffset, let serverTime, let requestTime {
            return ClockSkew.sentence(offset: offset, server: serverTime, local: requestTime)
        }
        return "the local clock is more than \(Int(ClockSkew.maximum / 60)) min away from Object Storage's"
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
        case "RequestTimeTooSkewed":
            clockSkewSummary.capitalizedFirst + ": synchronise the system clock (NTP: e.g. `timedatectl set-ntp true`, "
                + "chrony or ntpd) and run again; Object Storage refuses requests signed more than "
                + "\(Int(ClockSkew.maximum / 60)) min away from its own time."
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

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

/// Object Storage answered something the client cannot use (bad XML, wrong length).
public struct ObjectStorageIntegrityError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "Object Storage integrity check failed: \(message)" }
}
