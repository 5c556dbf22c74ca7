import Foundation
import Testing
@testable import ScalewayKit
@testable import ScalewaySimulator

/// A clock too far from Object Storage's is reported as such, with the
/// offset and the fix, even where S3 answers a bare 403 (HEAD); a real
/// permission or credential problem is still reported as one.
@Suite struct ClockSkewTests {
    static let credentials = ScalewayCredentials(accessKey: "SCWTESTACCESSKEY0001", secretKey: "11111111-2222-3333-4444-555555555555")

    /// A simulator, and clients of its Object Storage.
    final class Environment: @unchecked Sendable {
        // @unchecked Sendable invariant: immutable after init.
        let directory: String
        let simulator: Simulator
        let credentials: ScalewayCredentials
        let bucket: String

        static func start() async throws -> Environment { try await BlockingWork.run { try Environment() } }

        private init() throws {
            directory = NSTemporaryDirectory() + "skew-\(UUID().uuidString)"
            simulator = try Simulator.start(stateDirectory: directory, seed: .tiny, durations: .fast)
            let key = simulator.endpoints.keys.first { $0.name == "full-access" }!
            credentials = ScalewayCredentials(accessKey: key.accessKey, secretKey: key.secretKey)
            bucket = simulator.endpoints.bucket!
        }

        /// A client signing with a clock `offset` seconds off, against `endpoint` (the simulator's by default).
        func client(signingOffset offset: TimeInterval = 0, endpoint: String? = nil) throws -> ObjectStorageClient {
            try ObjectStorageClient(transport: try Transport(), credentials: credentials, region: .frPar,
                                    endpoints: ScalewayEndpoints(s3Endpoint: endpoint ?? simulator.endpoints.s3Endpoint),
                                    options: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(1)),
                                                                  clock: VirtualClock(),
                                                                  signingClock: { Date().addingTimeInterval(offset) }))
        }

        func stop() {
            let simulator = simulator, directory = directory
            Thread.detachNewThread {
                simulator.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    /// A second S3 endpoint over the simulator's account whose clock runs
    /// `offset` seconds ahead, while its `Date` header stays right (the
    /// HTTP layer writes it): only the XML error of a GET can tell.
    final class SkewedServer: @unchecked Sendable {
        // @unchecked Sendable invariant: immutable after init.
        let server: HTTPServer
        init(_ environment: Environment, offset: TimeInterval) throws {
            let sim = environment.simulator
            let s3 = S3Service(store: sim.objectStore, keys: sim.core.store, region: sim.endpoints.region,
                               clock: { Date().addingTimeInterval(offset) })
            server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: environment.directory + "/skewed-uploads"),
                                    handler: s3)
        }
        deinit { server.stop() }
    }

    @Test func localClockAheadIsNamedOnABodilessHead() async throws {
        let environment = try await Environment.start()
        defer { environment.stop() }
        let client = try environment.client(signingOffset: 47 * 60)
        // HEAD bucket: S3 answers a bare 403; the Date header shows the skew.
        let error = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.bucketExists(environment.bucket) }
        #expect(error?.code == "RequestTimeTooSkewed" && error?.isClockSkew == true && error?.httpStatus == 403)
        let offset = try #require(error?.clockOffset)
        #expect(abs(offset - 47 * 60) < 30, "offset \(offset)")
        #expect(error?.clockSkewSummary.hasPrefix("the local clock is 47 min ahead of Object Storage (server time ") == true,
                "\(error?.clockSkewSummary ?? "")")
        #expect(error?.description.contains("NTP") == true, "\(error?.description ?? "")")
        // A GET says it in its XML (RequestTime, ServerTime): the same report.
        let get = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.listObjectsPage(bucket: environment.bucket) }
        #expect(get?.code == "RequestTimeTooSkewed" && get?.isCodeInferred == false)
        #expect(get?.clockSkewSummary.contains("47 min ahead") == true, "\(get?.clockSkewSummary ?? "")")
        // Within the 15 minutes S3 tolerates, nothing is wrong.
        #expect(try await environment.client(signingOffset: 10 * 60).bucketExists(environment.bucket))
    }

    @Test func serverClockAheadIsFoundByReAskingWithAGet() async throws {
        let environment = try await Environment.start()
        defer { environment.stop() }
        let skewed = try SkewedServer(environment, offset: 20 * 60)
        let client = try environment.client(endpoint: skewed.server.baseURL)
        // The HEAD's 403 has no body and a right Date header: only the follow-up GET ?location tells.
        let head = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.bucketExists(environment.bucket) }
        #expect(head?.code == "RequestTimeTooSkewed", "\(String(describing: head))")
        #expect(head?.operation == "HeadBucket \(environment.bucket)")
        #expect(head?.message?.contains("re-asking with GetBucketLocation") == true)
        #expect(head?.clockSkewSummary.contains("20 min behind Object Storage") == true, "\(head?.clockSkewSummary ?? "")")
        let object = await #expect(throws: ScalewayKit.S3Error.self) {
            _ = try await client.headObject(bucket: environment.bucket, key: "anything")
        }
        #expect(object?.isClockSkew == true && object?.key == "anything")
    }

    @Test func realPermissionAndCredentialProblemsStayWhatTheyAre() async throws {
        let accessDenied = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>tx9</RequestId></Error>"
        let badSignature = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>"
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "HEAD", "path": "/denied/", "responses": [["status": 403, "body": ""]]],
            ["method": "GET", "path": "/denied/", "query": "location=", "responses": [["status": 403, "body": accessDenied,
                                                                                     "headers": ["Content-Type": "application/xml"]]]],
            ["method": "HEAD", "path": "/readable/secret", "responses": [["status": 403, "body": ""]]],
            ["method": "GET", "path": "/readable/", "query": "location=", "responses": [["status": 200, "headers": ["Content-Type": "application/xml"],
                "body": "<?xml version=\"1.0\"?><LocationConstraint>fr-par</LocationConstraint>"]]],
            ["method": "HEAD", "path": "/wrongsecret/", "responses": [["status": 403, "body": ""]]],
            ["method": "GET", "path": "/wrongsecret/", "query": "location=", "responses": [["status": 403, "body": badSignature,
                                                                                          "headers": ["Content-Type": "application/xml"]]]],
        ]])
        defer { server.stop() }
        let client = try ObjectStorageClient(transport: try Transport(), credentials: Self.credentials, region: .frPar,
                                             endpoints: ScalewayEndpoints(s3Endpoint: server.baseURL),
                                             options: ObjectStorageOptions(retry: .none, clock: VirtualClock()))
        let denied = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.bucketExists("denied") }
        #expect(denied?.code == "AccessDenied" && denied?.isClockSkew == false)
        #expect(denied?.advice.contains("ObjectStorageBucketsRead") == true)
        // The key may read the bucket but not that object: a permission problem.
        let secret = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.headObject(bucket: "readable", key: "secret") }
        #expect(secret?.code == "AccessDenied")
        let wrong = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await client.bucketExists("wrongsecret") }
        #expect(wrong?.code == "SignatureDoesNotMatch" && wrong?.advice.contains("secret_key") == true)
        // One GET ?location per bodiless 403, never more (path style: a bucket is `/name/`).
        let log = try server.log()
        #expect(log.filter { $0.method == "GET" }.map(\.path) == ["/denied/", "/readable/", "/wrongsecret/"])
    }

    @Test func s3TimeFormatsAndTheBodilessDateRule() throws {
        let basic = try #require(ClockSkew.parse("20261204T193000Z"))
        #expect(ClockSkew.parse("2026-12-04T19:30:00Z") == basic)
        #expect(ClockSkew.parse("2026-12-04T19:30:00.000Z") == basic)
        #expect(ClockSkew.parse("Fri, 04 Dec 2026 19:30:00 GMT") == basic)
        #expect(ClockSkew.parse("yesterday") == nil)
        #expect(ClockSkew.describe(47 * 60 + 10) == "47 min" && ClockSkew.describe(-1199.6) == "20 min")
        #expect(ClockSkew.describe(40) == "40 s" && ClockSkew.describe(3 * 3600 + 5 * 60) == "3 h 05 min")

        let head = ScalewayKit.HTTPResponseHead(status: 403, headers: ["Date": "Fri, 04 Dec 2026 19:30:00 GMT"])
        let skewed = ScalewayKit.S3Error.decode(head: head, body: [], bucket: "b", key: nil, operation: "HeadBucket b",
                                    signedAt: basic.addingTimeInterval(-16 * 60))
        #expect(skewed.code == "RequestTimeTooSkewed" && skewed.clockOffset == -16 * 60)
        #expect(skewed.description.contains("16 min behind Object Storage (server time 2026-12-04T19:30:00Z, local time 2026-12-04T19:14:00Z)"))
        // Within 15 minutes a bodiless 403 stays an (inferred) AccessDenied, to be diagnosed.
        let plain = ScalewayKit.S3Error.decode(head: head, body: [], bucket: "b", key: nil, operation: "HeadBucket b",
                                   signedAt: basic.addingTimeInterval(14 * 60))
        #expect(plain.code == "AccessDenied" && plain.isCodeInferred)
    }
}
