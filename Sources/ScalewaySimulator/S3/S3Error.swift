import Foundation

/// An S3 error as Object Storage answers it: an HTTP status and the
/// `<Error><Code/><Message/>...</Error>` XML document.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    /// The S3 error code, e.g. `NoSuchKey`, `SignatureDoesNotMatch`.
    public var code: String
    public var message: String
    /// Extra elements of the error document (`Key`, `BucketName`, `UploadId`...), in order.
    public var details: [(String, String)]
    /// Extra response headers (e.g. `Content-Range` of a 416).
    public var headers: [(String, String)]

    public init(_ status: Int, _ code: String, _ message: String,
                details: [(String, String)] = [], headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public static func == (lhs: S3Error, rhs: S3Error) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message
    }

    public var description: String { "\(status) \(code): \(message)" }

    // MARK: The errors the simulator answers

    static func accessDenied(_ message: String = "Access Denied") -> S3Error { S3Error(403, "AccessDenied", message) }
    static func noSuchBucket(_ bucket: String) -> S3Error {
        S3Error(404, "NoSuchBucket", "The specified bucket does not exist", details: [("BucketName", bucket)])
    }
    static func noSuchKey(_ key: String) -> S3Error {
        S3Error(404, "NoSuchKey", "The specified key does not exist.", details: [("Key", key)])
    }
    static func noSuchUpload(_ uploadID: String) -> S3Error {
        S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid,"
                + " or the upload may have been aborted or completed.", details: [("UploadId", uploadID)])
    }
    static func invalidArgument(_ message: String, name: String? = nil, value: String? = nil) -> S3Error {
        var details: [(String, String)] = []
        if let name { details.append(("ArgumentName", name)) }
        if let value { details.append(("ArgumentValue", value)) }
        return S3Error(400, "InvalidArgument", message, details: details)
    }
    static func invalidRequest(_ message: String) -> S3Error { S3Error(400, "InvalidRequest", message) }
    static func malformedXML() -> S3Error {
        S3Error(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
    }
    static func notImplemented(_ message: String) -> S3Error { S3Error(501, "NotImplemented", message) }
    static func internalError(_ message: String = "We encountered an internal error. Please try again.") -> S3Error {
        S3Error(500, "InternalError", message)
    }
}
