import Crypto
import Foundation

/// Verifies AWS Signature Version 4 on Object Storage requests, strictly:
/// header authentication (`Authorization: AWS4-HMAC-SHA256 ...`) and
/// presigned query authentication (`X-Amz-Signature=...`).
///
/// Checks, in order: the scheme, the credential scope (the endpoint's
/// region, service `s3`), the access key (known, not expired), the request
/// time (15 minutes of skew at most), the signature recomputed over the
/// canonical request. The payload hash is only *returned*: the caller checks
/// it against the body (an expensive pass over a possibly multi-GiB file)
/// once the signature is known to be good.
struct SigV4Verifier: Sendable {
    /// What a verified request is entitled to.
    struct Outcome: Sendable {
        var key: APIKey
        /// The project the request acts in (the key's, or `@project` of the access key).
        var projectID: String
        var payload: Payload
    }

    /// The payload hash the signature covers.
    enum Payload: Sendable, Equatable {
        case unsigned
        case sha256([UInt8])
    }

    let keys: any KeyDirectory
    let region: String
    let maxSkew: TimeInterval
    let clock: @Sendable () -> Date

    init(keys: any KeyDirectory, region: String, maxSkew: TimeInterval = 15 * 60,
         clock: @escaping @Sendable () -> Date = { Date() }) {
        self.keys = keys
        self.region = region
        self.maxSkew = maxSkew
        self.clock = clock
    }

    func verify(_ request: HTTPRequest) throws -> Outcome {
        if let authorization = request.headers["Authorization"] {
            return try verifyHeader(authorization, request)
        }
        if request.query("X-Amz-Signature") != nil || request.query("X-Amz-Algorithm") != nil {
            return try verifyPresigned(request)
        }
        throw S3Error.accessDenied("Anonymous access is not allowed on this bucket.")
    }

    // MARK: Header authentication

    private func verifyHeader(_ authorization: String, _ request: HTTPRequest) throws -> Outcome {
        let algorithm = "AWS4-HMAC-SHA256"
        guard authorization.hasPrefix(algorithm + " ") else {
            throw S3Error.invalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst(algorithm.count + 1).split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
              let signature = fields["Signature"] else {
            throw Self.malformed("The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.")
        }
        guard let amzDate = request.headers["x-amz-date"] else {
            throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        guard let payloadHeader = request.headers["x-amz-content-sha256"] else {
            throw S3Error.invalidRequest("Missing required header for this request: x-amz-content-sha256")
        }
        let payload = try parsePayload(payloadHeader)
        let scope = try checkCredential(credential, amzDate: amzDate)
        let requestTime = try parseDate(amzDate)
        let skew = abs(requestTime.timeIntervalSince(clock()))
        if skew > maxSkew {
            throw S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
                          details: [("RequestTime", amzDate), ("ServerTime", Self.formatDate(clock())),
                                    ("MaxAllowedSkewMilliseconds", String(Int(maxSkew * 1000)))])
        }
        let headerNames = signedHeaders.split(separator: ";").map(String.init)
        guard headerNames.contains("host") else {
            throw Self.malformed("The authorization header is malformed; the host header must be signed.")
        }
        let canonical = canonicalRequest(request, signedHeaders: headerNames, payloadHash: payloadHeader,
                                         excludingQuery: nil)
        try checkSignature(signature, scope: scope, amzDate: amzDate, canonicalRequest: canonical)
        return Outcome(key: scope.key, projectID: scope.projectID, payload: payload)
    }

    // MARK: Presigned URLs

    private func verifyPresigned(_ request: HTTPRequest) throws -> Outcome {
        guard request.query("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" else {
            throw S3Error.invalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
        }
        guard let credential = request.query("X-Amz-Credential"), let amzDate = request.query("X-Amz-Date"),
              let expiresText = request.query("X-Amz-Expires"), let expires = Int(expiresText),
              let signedHeaders = request.query("X-Amz-SignedHeaders"),
              let signature = request.query("X-Amz-Signature") else {
            throw Self.malformedQuery("Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential,"
                                      + " X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        }
        guard (1...604_800).contains(expires) else {
            throw Self.malformedQuery("X-Amz-Expires must be between 1 and 604800 seconds")
        }
        let scope = try checkCredential(credential, amzDate: amzDate)
        let signedAt = try parseDate(amzDate)
        let now = clock()
        if signedAt.timeIntervalSince(now) > maxSkew {
            throw S3Error.accessDenied("Request is not valid yet")
        }
        if now.timeIntervalSince(signedAt) > Double(expires) {
            throw S3Error(403, "AccessDenied", "Request has expired",
                          details: [("X-Amz-Expires", expiresText), ("Expires", Self.formatDate(signedAt.addingTimeInterval(Double(expires)))),
                                    ("ServerTime", Self.formatDate(now))])
        }
        let payloadHash = request.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD"
        let payload = try parsePayload(payloadHash)
        let canonical = canonicalRequest(request, signedHeaders: signedHeaders.split(separator: ";").map(String.init),
                                         payloadHash: payloadHash, excludingQuery: "X-Amz-Signature")
        try checkSignature(signature, scope: scope, amzDate: amzDate, canonicalRequest: canonical)
        return Outcome(key: scope.key, projectID: scope.projectID, payload: payload)
    }

    // MARK: Pieces

    private struct Scope {
        var key: APIKey
        var projectID: String
        /// `date/region/s3/aws4_request`
        var text: String
        var date: String
    }

    private func checkCredential(_ credential: String, amzDate: String) throws -> Scope {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[4] == "aws4_request" else {
            throw Self.malformed("The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        let accessParts = parts[0].split(separator: "@", maxSplits: 1).map(String.init)
        guard let accessKey = accessParts.first, let key = keys.key(accessKey: accessKey) else {
            throw S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          details: [("AWSAccessKeyId", parts[0])])
        }
        if key.isExpired(at: clock()) {
            throw S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided has expired.",
                          details: [("AWSAccessKeyId", parts[0])])
        }
        guard parts[2] == region else {
            throw S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the region '\(parts[2])' is wrong; expecting '\(region)'",
                          details: [("Region", region)])
        }
        guard parts[3] == "s3" else {
            throw Self.malformed("The authorization header is malformed; incorrect service '\(parts[3])'. This endpoint belongs to 's3'.")
        }
        guard amzDate.count >= 8, parts[1] == String(amzDate.prefix(8)) else {
            throw Self.malformed("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
        }
        let projectID = accessParts.count > 1 ? accessParts[1] : key.projectID
        return Scope(key: key, projectID: projectID, text: parts[1...4].joined(separator: "/"), date: parts[1])
    }

    private func checkSignature(_ provided: String, scope: Scope, amzDate: String, canonicalRequest: String) throws {
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope.text)\n"
            + Hex.encode(Digest.sha256(Array(canonicalRequest.utf8)))
        var signingKey = HMAC.sha256(key: Array(("AWS4" + scope.key.secretKey).utf8), message: Array(scope.date.utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array(region.utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array("s3".utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array("aws4_request".utf8))
        let expected = Hex.encode(HMAC.sha256(key: signingKey, message: Array(stringToSign.utf8)))
        guard Self.constantTimeEqual(expected, provided.lowercased()) else {
            throw S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                          details: [("AWSAccessKeyId", scope.key.accessKey), ("StringToSign", stringToSign),
                                    ("SignatureProvided", provided), ("CanonicalRequest", canonicalRequest)])
        }
    }

    private func parsePayload(_ value: String) throws -> Payload {
        if value == "UNSIGNED-PAYLOAD" { return .unsigned }
        if value.hasPrefix("STREAMING-") {
            throw S3Error.notImplemented("Chunked uploads (\(value), Content-Encoding aws-chunked) are not supported:"
                                         + " send the payload in one piece (awscli/boto3: request_checksum_calculation=when_required).")
        }
        guard value.utf8.count == 64, let bytes = Hex.decode(value) else {
            throw S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value.",
                          details: [("ArgumentName", "x-amz-content-sha256"), ("ArgumentValue", value)])
        }
        return .sha256(bytes)
    }

    func canonicalRequest(_ request: HTTPRequest, signedHeaders: [String], payloadHash: String,
                          excludingQuery excluded: String?) -> String {
        // Canonical URI: each raw segment decoded then encoded the SigV4 way.
        let segments = request.rawPath.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            Self.uriEncode(String(segment).removingPercentEncoding ?? String(segment))
        }
        var uri = segments.joined(separator: "/")
        if uri.isEmpty { uri = "/" }
        var pairs: [(name: String, value: String)] = []
        for item in request.queryItems where item.name != excluded {
            pairs.append((Self.uriEncode(item.name), Self.uriEncode(item.value)))
        }
        pairs.sort { (a: (name: String, value: String), b: (name: String, value: String)) -> Bool in
            a.name == b.name ? a.value < b.value : a.name < b.name
        }
        let query = pairs.map { $0.name + "=" + $0.value }.joined(separator: "&")
        var headerLines = ""
        for name in signedHeaders {
            let values = request.headers.fields.filter { $0.name.lowercased() == name }.map { Self.trimHeaderValue($0.value) }
            headerLines += "\(name):\(values.joined(separator: ","))\n"
        }
        return "\(request.method)\n\(uri)\n\(query)\n\(headerLines)\n\(signedHeaders.joined(separator: ";"))\n\(payloadHash)"
    }

    // MARK: Helpers

    /// RFC 3986 unreserved characters stay, everything else is `%XX` (uppercase).
    static func uriEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0f)]))
            }
        }
        return out
    }

    private static func trimHeaderValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    private func parseDate(_ text: String) throws -> Date {
        guard let date = Self.parseAmzDate(text) else {
            throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        return date
    }

    /// `yyyyMMdd'T'HHmmss'Z'` (UTC) to a date.
    static func parseAmzDate(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        guard chars.count == 16, chars[8] == UInt8(ascii: "T"), chars[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(chars[i]) else { return nil }
                value = value * 10 + Int(chars[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15) else { return nil }
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        (components.year, components.month, components.day) = (year, month, day)
        (components.hour, components.minute, components.second) = (hour, minute, second)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }

    /// A date as `yyyyMMdd'T'HHmmss'Z'`.
    static func formatDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2)
            + pad(c.second, 2) + "Z"
    }

    private static func malformed(_ message: String) -> S3Error { S3Error(400, "AuthorizationHeaderMalformed", message) }
    private static func malformedQuery(_ message: String) -> S3Error { S3Error(400, "AuthorizationQueryParametersError", message) }
}
