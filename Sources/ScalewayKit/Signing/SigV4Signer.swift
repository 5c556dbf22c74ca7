import Crypto
import Foundation

/// AWS Signature Version 4 for S3, as Scaleway Object Storage verifies it.
///
/// A pure value: the same inputs always give the same signature, so each
/// stage of the specification is exposed and tested on its own:
/// ``canonicalRequest(_:)``, ``stringToSign(canonicalRequest:timestamp:)``,
/// ``signingKey(date:)`` and ``signature(stringToSign:signingKey:)``;
/// ``sign(_:at:)`` runs them all and returns the headers to send.
///
/// S3 specifics: the path is encoded once per segment, hex digits are
/// uppercase, the query is sorted by encoded name then value, and
/// `x-amz-content-sha256` is always sent and signed (the hex SHA-256 of the
/// body, or `UNSIGNED-PAYLOAD` for bodies streamed over TLS whose parts are
/// checked with Content-MD5 instead).
public struct SigV4Signer: Sendable {
    public let credentials: ScalewayCredentials
    /// The credential scope's region: `fr-par`, `nl-ams`, `pl-waw` (or `us-east-1` in AWS examples).
    public let region: String
    public let service: String

    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Headers never signed: proxies and clients may change them in flight.
    static let unsignedHeaderNames: Set<String> = ["authorization", "user-agent", "expect", "x-amzn-trace-id", "content-length"]

    public init(credentials: ScalewayCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// What gets signed.
    public struct Request: Sendable {
        public var method: String
        /// The raw (unencoded) path, e.g. `/test$file.text` or `/bucket/a b.qcow2`.
        public var path: String
        /// Raw (unencoded) query parameters; a flag like `?uploads` is `("uploads", "")`.
        public var query: [(name: String, value: String)]
        /// Headers to sign, `host` included.
        public var headers: HTTPHeaders
        /// Hex SHA-256 of the body, or ``SigV4Signer/unsignedPayload``.
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: HTTPHeaders, payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The canonical request and the list of signed header names.
    public struct CanonicalRequest: Sendable, Hashable {
        public var text: String
        public var signedHeaders: String
    }

    // MARK: Stages

    /// Task 1: the canonical request.
    public func canonicalRequest(_ request: Request) -> CanonicalRequest {
        var grouped: [String: [String]] = [:]
        for field in request.headers {
            let name = field.name.lowercased()
            guard !SigV4Signer.unsignedHeaderNames.contains(name) else { continue }
            grouped[name, default: []].append(SigV4Signer.canonicalHeaderValue(field.value))
        }
        let names = grouped.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let text = [
            request.method.uppercased(),
            SigV4Encoding.canonicalURI(request.path),
            SigV4Encoding.canonicalQueryString(request.query),
            canonicalHeaders,
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        return CanonicalRequest(text: text, signedHeaders: signedHeaders)
    }

    /// The credential scope: `yyyymmdd/region/service/aws4_request`.
    public func scope(date: String) -> String { "\(date)/\(region)/\(service)/aws4_request" }

    /// Task 2: the string to sign, for a timestamp `yyyymmddThhmmssZ`.
    public func stringToSign(canonicalRequest: String, timestamp: String) -> String {
        [
            SigV4Signer.algorithm,
            timestamp,
            scope(date: String(timestamp.prefix(8))),
            Hex.encode(Digest.sha256(Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    /// Task 3a: the signing key, HMAC chained over date, region, service and `aws4_request`.
    public func signingKey(date: String) -> [UInt8] {
        let dateKey = HMAC.sha256(key: Array("AWS4\(credentials.secretKey)".utf8), message: Array(date.utf8))
        let regionKey = HMAC.sha256(key: dateKey, message: Array(region.utf8))
        let serviceKey = HMAC.sha256(key: regionKey, message: Array(service.utf8))
        return HMAC.sha256(key: serviceKey, message: Array("aws4_request".utf8))
    }

    /// Task 3b: the signature, lowercase hex.
    public func signature(stringToSign: String, signingKey: [UInt8]) -> String {
        Hex.encode(HMAC.sha256(key: signingKey, message: Array(stringToSign.utf8)))
    }

    /// The `Authorization` header value.
    public func authorization(signature: String, date: String, signedHeaders: String) -> String {
        "\(SigV4Signer.algorithm) Credential=\(credentials.accessKey)/\(scope(date: date)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    // MARK: All together

    /// Signs `request` at `date`: adds `x-amz-date` and `x-amz-content-sha256`
    /// (unless present) and returns the headers with `Authorization`.
    public func sign(_ request: Request, at date: Date) -> HTTPHeaders {
        var request = request
        let timestamp = SigV4Signer.timestamp(date)
        if !request.headers.contains("x-amz-date") { request.headers.add("x-amz-date", timestamp) }
        if !request.headers.contains("x-amz-content-sha256") {
            request.headers.add("x-amz-content-sha256", request.payloadHash)
        }
        let canonical = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical.text, timestamp: timestamp)
        let day = String(timestamp.prefix(8))
        let signed = signature(stringToSign: toSign, signingKey: signingKey(date: day))
        var headers = request.headers
        headers.set("Authorization", authorization(signature: signed, date: day, signedHeaders: canonical.signedHeaders))
        return headers
    }

    /// `yyyymmddThhmmssZ` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))\(pad(parts.tm_mon + 1, 2))\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2))\(pad(parts.tm_min, 2))\(pad(parts.tm_sec, 2))Z"
    }

    /// Trims leading and trailing spaces and collapses inner runs of spaces to one.
    static func canonicalHeaderValue(_ value: String) -> String {
        var out = [UInt8]()
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.append(UInt8(ascii: " ")); pendingSpace = false }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
