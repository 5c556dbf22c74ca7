import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("S3 SigV4 verification", .serialized)
final class S3SigV4Tests {
    let s3: S3TestServer
    init() throws { s3 = try S3TestServer() }
    deinit { s3.removeAll() }

    @Test("a correctly signed PUT and GET succeed, with request ids")
    func valid() throws {
        let body = Data("hello sigv4".utf8)
        let put = try s3.request("PUT", "/staging/greeting.txt", body: body)
        #expect(put.status == 200)
        #expect(put.header("ETag") == "\"\(Hex.encode(Digest.md5(body)))\"")
        let requestID = try #require(put.header("x-amz-request-id"))
        #expect(requestID.hasPrefix("tx") && requestID.count == 34 && requestID.dropFirst(23).first == "-")
        #expect(put.header("x-amz-id-2") == requestID)
        let get = try s3.request("GET", "/staging/greeting.txt")
        #expect(get.status == 200)
        #expect(get.body == body)
    }

    @Test("UNSIGNED-PAYLOAD is accepted")
    func unsignedPayload() throws {
        let put = try s3.request("PUT", "/staging/unsigned", body: Data("x".utf8), payload: .unsigned)
        #expect(put.status == 200)
    }

    @Test("a wrong secret gives 403 SignatureDoesNotMatch")
    func wrongSecret() throws {
        let response = try s3.request("GET", "/staging", query: "list-type=2", secret: "not-the-secret")
        #expect(response.status == 403)
        #expect(response.errorCode == "SignatureDoesNotMatch")
        #expect(response.xmlValue("RequestId")?.isEmpty == false)
        #expect(response.xmlValue("HostId")?.isEmpty == false)
        #expect(!response.text.contains(S3TestKeys.full.secretKey))
    }

    @Test("a request 20 minutes off gives 403 RequestTimeTooSkewed; 10 minutes is fine")
    func skew() throws {
        let skewed = try s3.request("GET", "/staging", query: "list-type=2", date: Date().addingTimeInterval(-20 * 60))
        #expect(skewed.status == 403)
        #expect(skewed.errorCode == "RequestTimeTooSkewed")
        let ahead = try s3.request("GET", "/staging", query: "list-type=2", date: Date().addingTimeInterval(20 * 60))
        #expect(ahead.errorCode == "RequestTimeTooSkewed")
        let fine = try s3.request("GET", "/staging", query: "list-type=2", date: Date().addingTimeInterval(-10 * 60))
        #expect(fine.status == 200)
    }

    @Test("a body that does not match the signed payload hash is refused")
    func tamperedPayload() throws {
        let claimed = Hex.encode(Digest.sha256(Array("original".utf8)))
        let response = try s3.request("PUT", "/staging/tampered", body: Data("tampered".utf8), payload: .claimed(claimed))
        #expect(response.status == 400)
        #expect(response.errorCode == "XAmzContentSHA256Mismatch")
        #expect(s3.store.object(bucket: "staging", key: "tampered") == nil)
    }

    @Test("a large tampered upload (streamed to disk) is refused too")
    func tamperedLargePayload() throws {
        let body = S3TestServer.bytes(3 << 20, seed: 9)
        var other = body
        other[12345] ^= 0xff
        let claimed = Hex.encode(Digest.sha256(other))
        let response = try s3.request("PUT", "/staging/tampered-large", body: body, payload: .claimed(claimed))
        #expect(response.errorCode == "XAmzContentSHA256Mismatch")
    }

    @Test("unknown, expired and foreign-region credentials are refused")
    func badCredentials() throws {
        let unknown = APIKey(accessKey: "SCWUNKNOWN0000000000", secretKey: "x", projectID: S3TestKeys.project, permissionSets: [])
        let r1 = try s3.request("GET", "/staging", query: "list-type=2", key: unknown)
        #expect(r1.status == 403)
        #expect(r1.errorCode == "InvalidAccessKeyId")
        let r2 = try s3.request("GET", "/staging", query: "list-type=2", key: S3TestKeys.expired)
        #expect(r2.status == 403)
        #expect(r2.errorCode == "InvalidAccessKeyId")
        let r3 = try s3.request("GET", "/staging", query: "list-type=2", region: "nl-ams")
        #expect(r3.status == 400)
        #expect(r3.errorCode == "AuthorizationHeaderMalformed")
        #expect(r3.text.contains("expecting 'fr-par'"))
    }

    @Test("aws-chunked streaming payloads are refused with NotImplemented and a hint")
    func streamingRefused() throws {
        let r = try s3.request("PUT", "/staging/chunked", body: Data("x".utf8),
                               payload: .claimed("STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
        #expect(r.status == 501)
        #expect(r.errorCode == "NotImplemented")
        #expect(r.text.contains("when_required"))
        #expect(S3Service.loggableQuery("a=1&X-Amz-Signature=abc") == "?a=1&X-Amz-Signature=<redacted>")
    }

    @Test("anonymous requests and missing x-amz-content-sha256 are refused")
    func anonymousAndMissingHash() throws {
        let anonymous = try s3.request("GET", "/staging/greeting.txt", sign: false)
        #expect(anonymous.status == 403)
        #expect(anonymous.errorCode == "AccessDenied")
        let noHash = try s3.request("GET", "/staging", query: "list-type=2", payload: .none)
        #expect(noHash.status == 400)
        #expect(noHash.errorCode == "InvalidRequest")
    }

    @Test("curl's own SigV4 signer is accepted, and refused with a wrong secret")
    func curlSigner() throws {
        _ = try s3.request("PUT", "/staging/curl-signed", body: Data("by curl".utf8))
        let url = "\(s3.server.baseURL)/staging/curl-signed"
        func get(_ secret: String) throws -> CommandResult {
            try HTTPTestSupport.run("curl", ["-sS", "-w", "\n%{http_code}", "--aws-sigv4", "aws:amz:fr-par:s3",
                                             "--user", "\(S3TestKeys.full.accessKey):\(secret)",
                                             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url])
        }
        #expect(try get(S3TestKeys.full.secretKey).text == "by curl\n200")
        #expect(try get("wrong").text.hasSuffix("403"))
    }

    @Test("keys with escapes and query parameters are signed over their canonical form")
    func canonicalEncoding() throws {
        let put = try s3.request("PUT", "/staging/dir%20one/file%2Bplus%28x%29~.txt", body: Data("k".utf8))
        #expect(put.status == 200)
        #expect(s3.store.object(bucket: "staging", key: "dir one/file+plus(x)~.txt") != nil)
        let list = try s3.request("GET", "/staging", query: "list-type=2&prefix=dir%20one%2F&max-keys=5")
        #expect(list.status == 200)
        #expect(list.xmlValues("Key") == ["dir one/file+plus(x)~.txt"])
    }

    @Test("presigned GET URLs are verified, and expire")
    func presigned() throws {
        _ = try s3.request("PUT", "/staging/presigned", body: Data("presigned body".utf8))
        func url(expires: Int, date: Date, secret: String = S3TestKeys.full.secretKey) -> String {
            let amzDate = SigV4Verifier.formatDate(date)
            let scope = "\(amzDate.prefix(8))/fr-par/s3/aws4_request"
            let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\(S3TestKeys.full.accessKey)%2F\(scope.replacingOccurrences(of: "/", with: "%2F"))"
                + "&X-Amz-Date=\(amzDate)&X-Amz-Expires=\(expires)&X-Amz-SignedHeaders=host"
            let canonical = "GET\n/staging/presigned\n\(query)\nhost:\(s3.host)\n\nhost\nUNSIGNED-PAYLOAD"
            let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Hex.encode(Digest.sha256(Array(canonical.utf8))))"
            var k = HMAC.sha256(key: Array("AWS4\(secret)".utf8), message: Array(amzDate.prefix(8).utf8))
            for part in ["fr-par", "s3", "aws4_request"] { k = HMAC.sha256(key: k, message: Array(part.utf8)) }
            let signature = Hex.encode(HMAC.sha256(key: k, message: Array(toSign.utf8)))
            return "\(s3.server.baseURL)/staging/presigned?\(query)&X-Amz-Signature=\(signature)"
        }
        let ok = try HTTPTestSupport.curl([url(expires: 300, date: Date())])
        #expect(ok.status == 200)
        #expect(String(decoding: ok.body, as: UTF8.self) == "presigned body")
        let expired = try HTTPTestSupport.curl([url(expires: 60, date: Date().addingTimeInterval(-3600))])
        #expect(expired.status == 403)
        let wrong = try HTTPTestSupport.curl([url(expires: 300, date: Date(), secret: "nope")])
        #expect(wrong.status == 403)
        #expect(String(decoding: wrong.body, as: UTF8.self).contains("SignatureDoesNotMatch"))
    }
}
