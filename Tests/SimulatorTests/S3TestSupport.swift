import Crypto
import Foundation
@testable import ScalewaySimulator

/// Keys of the test account.
struct S3TestKeys: KeyDirectory {
    static let project = "11111111-1111-4111-8111-111111111111"
    static let otherProject = "22222222-2222-4222-8222-222222222222"
    static let full = APIKey(accessKey: "SCWFULLACCESSKEY0001", secretKey: "aaaaaaaa-1111-4111-8111-000000000001",
                             projectID: project, permissionSets: APIKey.allPermissionSets)
    static let readOnly = APIKey(accessKey: "SCWREADONLYKEY000002", secretKey: "aaaaaaaa-1111-4111-8111-000000000002",
                                 projectID: project,
                                 permissionSets: ["ObjectStorageBucketsRead", "ObjectStorageObjectsRead"])
    static let expired = APIKey(accessKey: "SCWEXPIREDKEY0000003", secretKey: "aaaaaaaa-1111-4111-8111-000000000003",
                                projectID: project, permissionSets: APIKey.allPermissionSets,
                                expiresAt: Date(timeIntervalSince1970: 1_700_000_000))
    static let other = APIKey(accessKey: "SCWOTHERPROJECTKEY04", secretKey: "aaaaaaaa-1111-4111-8111-000000000004",
                              projectID: otherProject, permissionSets: APIKey.allPermissionSets)
    static let all = [full, readOnly, expired, other]

    func key(accessKey: String) -> APIKey? { Self.all.first { $0.accessKey == accessKey } }
    func key(secretKey: String) -> APIKey? { Self.all.first { $0.secretKey == secretKey } }
}

/// One response as curl saw it.
struct CurlResponse {
    var status: Int
    var headers: [(String, String)]
    var body: Data
    var exitCode: Int32
    var stderr: String

    func header(_ name: String) -> String? {
        headers.last { $0.0.lowercased() == name.lowercased() }?.1
    }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// `<Code>` of an S3 error document.
    var errorCode: String? { xmlValue("Code") }

    func xmlValue(_ element: String) -> String? {
        guard let start = text.range(of: "<\(element)>"),
              let end = text.range(of: "</\(element)>", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    func xmlValues(_ element: String) -> [String] {
        var values: [String] = []
        var searchFrom = text.startIndex
        while let start = text.range(of: "<\(element)>", range: searchFrom..<text.endIndex),
              let end = text.range(of: "</\(element)>", range: start.upperBound..<text.endIndex) {
            values.append(String(text[start.upperBound..<end.lowerBound]))
            searchFrom = end.upperBound
        }
        return values
    }
}

/// A running S3 endpoint over a fresh store, plus a SigV4-signing curl driver.
final class S3TestServer {
    static let region = "fr-par"
    static let bucket = "staging"
    static let otherBucket = "other-project-bucket"

    let directory: String
    let store: ObjectStore
    let server: HTTPServer
    let faults: FaultInjector
    var tls: TLSMaterial?

    init(directory existing: String? = nil, tls: Bool = false, faults: FaultInjector = FaultInjector()) throws {
        directory = try existing ?? HTTPTestSupport.temporaryDirectory("s3")
        store = try ObjectStore(directory: directory + "/s3")
        if store.bucket(named: Self.bucket) == nil {
            try store.createBucket(BucketInfo(name: Self.bucket, region: Self.region, projectID: S3TestKeys.project))
            try store.createBucket(BucketInfo(name: Self.otherBucket, region: Self.region, projectID: S3TestKeys.otherProject))
        }
        self.faults = faults
        if tls { self.tls = try TLSMaterial.loadOrGenerate(in: directory + "/tls") }
        let service = S3Service(store: store, keys: S3TestKeys(), region: Self.region)
        server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: directory + "/uploads",
                                                                       tls: self.tls),
                                handler: service, faults: faults)
    }

    func stop() { server.stop() }

    func removeAll() {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var host: String { "127.0.0.1:\(server.port)" }

    enum Payload {
        case signed
        case unsigned
        /// Sign this hash whatever the body is (tampering).
        case claimed(String)
        case none
    }

    /// Sends a SigV4-signed request with curl.
    ///
    /// - Parameters:
    ///   - path: the raw (already percent-encoded) path, e.g. `/staging/a%20b`.
    ///   - query: raw query without `?`.
    ///   - body: bytes to send (`bodyFile` for large ones).
    ///   - secret: overrides the key's secret when signing (wrong-secret tests).
    ///   - date: signing time (skew tests).
    ///   - hostHeader: Host to send and sign (virtual-host tests).
    func request(_ method: String, _ path: String, query: String = "", headers extra: [(String, String)] = [],
                 body: Data? = nil, bodyFile: String? = nil, key: APIKey = S3TestKeys.full, secret: String? = nil,
                 region: String = S3TestServer.region, date: Date = Date(), payload: Payload = .signed,
                 hostHeader: String? = nil, sign: Bool = true, extraCurlArguments: [String] = []) throws -> CurlResponse {
        let scratch = try HTTPTestSupport.temporaryDirectory("curl")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var bodyPath = bodyFile
        if let body {
            bodyPath = scratch + "/body"
            try body.write(to: URL(fileURLWithPath: bodyPath!))
        }
        let amzDate = SigV4Verifier.formatDate(date)
        var headers: [(String, String)] = [("host", hostHeader ?? host), ("x-amz-date", amzDate)]
        let payloadHash: String?
        switch payload {
        case .signed:
            let data = try bodyPath.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } ?? Data()
            payloadHash = Hex.encode(Digest.sha256(data))
        case .unsigned: payloadHash = "UNSIGNED-PAYLOAD"
        case let .claimed(hash): payloadHash = hash
        case .none: payloadHash = nil
        }
        if let payloadHash { headers.append(("x-amz-content-sha256", payloadHash)) }
        headers += extra.map { ($0.0.lowercased(), $0.1) }
        if sign {
            let authorization = Self.authorization(method: method, path: path, query: query, headers: headers,
                                                   payloadHash: payloadHash ?? "UNSIGNED-PAYLOAD",
                                                   accessKey: key.accessKey, secret: secret ?? key.secretKey,
                                                   region: region, amzDate: amzDate)
            headers.append(("authorization", authorization))
        }
        var arguments = ["-sS", "-g", "-o", scratch + "/out", "-D", scratch + "/headers", "-w", "%{http_code}",
                         "-X", method, "--path-as-is"]
        if let ca = tls?.caFile { arguments += ["--cacert", ca] }
        for (name, value) in headers where name != "host" || hostHeader != nil { arguments += ["-H", "\(name): \(value)"] }
        if body == nil, let bodyPath {
            arguments += ["-T", bodyPath]  // streamed from disk (large bodies)
        } else if let bodyPath {
            arguments += ["--data-binary", "@" + bodyPath, "-H", "Expect:"]
        }
        if method == "HEAD" { arguments += ["-I"] }
        if bodyPath != nil && !extra.contains(where: { $0.0.lowercased() == "content-type" }) {
            arguments += ["-H", "Content-Type:"]
        }
        arguments += extraCurlArguments
        arguments.append("\(server.scheme)://127.0.0.1:\(server.port)\(path)\(query.isEmpty ? "" : "?" + query)")
        let result = try HTTPTestSupport.run("curl", arguments)
        let status = Int(result.text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let headerText = (try? String(contentsOfFile: scratch + "/headers", encoding: .utf8)) ?? ""
        var parsed: [(String, String)] = []
        for line in headerText.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            parsed.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        // With -I curl writes the header block to the output file: a HEAD
        // response has no body on the wire anyway.
        let out = method == "HEAD" ? Data() : ((try? Data(contentsOf: URL(fileURLWithPath: scratch + "/out"))) ?? Data())
        return CurlResponse(status: status, headers: parsed, body: out, exitCode: result.status, stderr: result.stderr)
    }

    /// A SigV4 Authorization header, computed the way clients do (test-side signer).
    static func authorization(method: String, path: String, query: String, headers: [(String, String)],
                              payloadHash: String, accessKey: String, secret: String, region: String,
                              amzDate: String) -> String {
        let sortedHeaders = headers.sorted { $0.0 < $1.0 }
        let signedHeaders = sortedHeaders.map(\.0).joined(separator: ";")
        let canonicalHeaders = sortedHeaders.map { "\($0.0):\($0.1.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let canonicalQuery = query.isEmpty ? "" : query.split(separator: "&").map { item -> String in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = SigV4Verifier.uriEncode(String(parts[0]).removingPercentEncoding ?? String(parts[0]))
            let value = parts.count > 1 ? SigV4Verifier.uriEncode(String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            return "\(name)=\(value)"
        }.sorted().joined(separator: "&")
        let canonical = "\(method)\n\(path)\n\(canonicalQuery)\n\(canonicalHeaders)\n\(signedHeaders)\n\(payloadHash)"
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/s3/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Hex.encode(Digest.sha256(Array(canonical.utf8))))"
        var signingKey = HMAC.sha256(key: Array("AWS4\(secret)".utf8), message: Array(day.utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array(region.utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array("s3".utf8))
        signingKey = HMAC.sha256(key: signingKey, message: Array("aws4_request".utf8))
        let signature = Hex.encode(HMAC.sha256(key: signingKey, message: Array(stringToSign.utf8)))
        return "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    static func contentMD5(_ data: Data) -> String { Data(Digest.md5(data)).base64EncodedString() }

    /// Deterministic pseudo-random bytes.
    static func bytes(_ count: Int, seed: UInt64 = 1) -> Data {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var data = Data(count: count)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt8.self)
            for i in 0..<count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                words[i] = UInt8(truncatingIfNeeded: state)
            }
        }
        return data
    }
}
