import Foundation
import Testing
@testable import ScalewayKit

/// Eventual consistency: an object just written, or a fresh key, may be
/// refused for a moment. Those refusals are retried within a bounded,
/// jittered window, where the caller says it is safe; a generic 404 never is.
@Suite struct PropagationRetryTests {
    static let credentials = ScalewayCredentials(accessKey: "SCWTESTACCESSKEY0001", secretKey: "11111111-2222-3333-4444-555555555555")
    static var noSuchKey: [String: Any] { ["status": 404, "headers": ["Content-Type": "application/xml"],
        "body": "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"] }

    func storage(_ server: ScriptedServer, clock: VirtualClock, freshCredentials: Bool = false) throws -> ObjectStorageClient {
        try ObjectStorageClient(transport: try Transport(), credentials: Self.credentials, region: .frPar,
                                endpoints: ScalewayEndpoints(s3Endpoint: server.baseURL),
                                options: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10),
                                                                                 propagation: .objectStorage),
                                                              clock: clock, freshCredentials: freshCredentials))
    }

    @Test func delaysAreJitteredExponentialAndBoundedByTheWindow() {
        let low = PropagationPolicy(window: .seconds(30), initialDelay: .milliseconds(500), maxDelay: .seconds(5), random: { 0 })
        let high = PropagationPolicy(window: .seconds(30), initialDelay: .milliseconds(500), maxDelay: .seconds(5), random: { 0.999999 })
        #expect((1...6).map { low.delay(beforeRetry: $0) }
                == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .milliseconds(2500), .milliseconds(2500)])
        #expect((1...6).map { high.delay(beforeRetry: $0) }
                == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        #expect(high.nextDelay(retry: 5, elapsed: .seconds(25)) == .seconds(5))
        #expect(high.nextDelay(retry: 5, elapsed: .milliseconds(25_001)) == nil)
        #expect(PropagationPolicy.none.nextDelay(retry: 1, elapsed: .zero) == nil)
        #expect(RetryPolicy.objectStorage.propagation.window == .seconds(30) && RetryPolicy.api.propagation.window == .seconds(120))
    }

    @Test func anObjectJustWrittenIsWaitedFor() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "HEAD", "path": "/bkt/fresh", "responses": [["status": 404, "body": ""], ["status": 403, "body": ""],
                                                                   ["status": 200, "body": "", "headers": ["Content-Length": "0", "ETag": "\"e1\""]]]],
            ["method": "GET", "path": "/bkt/", "query": "location=", "responses": [["status": 200, "headers": ["Content-Type": "application/xml"],
                "body": "<?xml version=\"1.0\"?><LocationConstraint>fr-par</LocationConstraint>"]]],
            ["method": "GET", "path": "/bkt/image", "responses": [Self.noSuchKey, Self.noSuchKey,
                                                                  ["status": 200, "body": "qcow2-bytes", "headers": ["Content-Type": "application/octet-stream"]]]],
        ]])
        defer { server.stop() }
        let clock = VirtualClock()
        let client = try storage(server, clock: clock)
        // 404, then 403 (read-after-write), then the object.
        let meta = try await client.headObject(bucket: "bkt", key: "fresh", recentlyWritten: true)
        #expect(meta.etag == "e1")
        #expect(clock.sleeps.count == 2)
        #expect(clock.sleeps.allSatisfy { $0 >= .milliseconds(250) && $0 <= .seconds(1) }, "\(clock.sleeps)")
        let bytes = try await client.getObjectBytes(bucket: "bkt", key: "image", recentlyWritten: true)
        #expect(String(decoding: bytes, as: UTF8.self) == "qcow2-bytes")
        #expect(clock.sleeps.count == 4)
    }

    @Test func aGenericNotFoundIsNeverRetried() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "HEAD", "path": "/bkt/unknown", "responses": [["status": 404, "body": ""], ["status": 200, "body": ""]]],
        ]])
        defer { server.stop() }
        let clock = VirtualClock()
        let error = await #expect(throws: S3Error.self) {
            _ = try await storage(server, clock: clock).headObject(bucket: "bkt", key: "unknown")
        }
        #expect(error?.code == "NoSuchKey" && clock.sleeps.isEmpty)
    }

    @Test func propagationRetriesStopAtTheWindow() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "/bkt/never", "responses": [Self.noSuchKey]],
        ]])
        defer { server.stop() }
        let clock = VirtualClock()
        let error = await #expect(throws: S3Error.self) {
            _ = try await storage(server, clock: clock).getObjectBytes(bucket: "bkt", key: "never", recentlyWritten: true)
        }
        #expect(error?.code == "NoSuchKey")
        #expect(clock.now() <= .seconds(30) && clock.now() >= .seconds(20), "waited \(clock.now())")
        #expect(clock.sleeps.count >= 5 && clock.sleeps.allSatisfy { $0 <= .seconds(5) }, "\(clock.sleeps)")
    }

    @Test func aFreshKeyIsGivenTimeToPropagateButAnExpiredOneIsNot() async throws {
        let base = "/instance/v1/zones/fr-par-1"
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "\(base)/servers/s1", "responses": [
                ["status": 401, "body": ["type": "denied_authentication", "method": "api_key", "reason": "not_found"]],
                ["status": 403, "body": ["type": "permissions_denied", "message": "insufficient permissions",
                                         "details": [["resource": "instance_server", "action": "read"]]]],
                ["status": 200, "body": ["server": APIClientTests.server("s1")]],
            ]],
            ["method": "GET", "path": "\(base)/servers/s2", "responses": [
                ["status": 401, "body": ["type": "denied_authentication", "method": "api_key", "reason": "expired"]],
            ]],
            ["method": "GET", "path": "\(base)/servers/s3", "responses": [
                ["status": 401, "body": ["type": "denied_authentication", "method": "api_key", "reason": "not_found"]],
                ["status": 200, "body": ["server": APIClientTests.server("s3")]],
            ]],
        ]])
        defer { server.stop() }
        func instance(fresh: Bool, clock: VirtualClock) throws -> InstanceClient {
            InstanceClient(transport: try Transport(), credentials: Self.credentials, endpoints: ScalewayEndpoints(apiURL: server.baseURL),
                           options: APIClientOptions(retry: RetryPolicy(maxAttempts: 4, random: { 0 },
                                                                        propagation: PropagationPolicy(window: .seconds(120), initialDelay: .seconds(2),
                                                                                                       maxDelay: .seconds(15), random: { 0 })),
                                                     clock: clock, freshCredentials: fresh))
        }
        let clock = VirtualClock()
        let fresh = try instance(fresh: true, clock: clock)
        #expect(try await fresh.getServer(zone: .frPar1, id: "s1").id == "s1")
        #expect(clock.sleeps == [.seconds(1), .seconds(2)])
        let expired = await #expect(throws: ScalewayAPIError.self) { _ = try await fresh.getServer(zone: .frPar1, id: "s2") }
        #expect(expired?.reason == "expired" && clock.sleeps.count == 2)
        // Without the fresh-key flag a 401 is believed at once.
        let plainClock = VirtualClock()
        let plain = await #expect(throws: ScalewayAPIError.self) {
            _ = try await instance(fresh: false, clock: plainClock).getServer(zone: .frPar1, id: "s3")
        }
        #expect(plain?.kind == .deniedAuthentication && plainClock.sleeps.isEmpty)
    }

    @Test func aFreshKeyRefusedByObjectStorageIsRetried() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "/bkt/", "query": "list-type=2&max-keys=1000", "responses": [
                ["status": 403, "headers": ["Content-Type": "application/xml"],
                 "body": "<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The access key does not exist.</Message></Error>"],
                ["status": 200, "headers": ["Content-Type": "application/xml"],
                 "body": "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"],
            ]],
        ]])
        defer { server.stop() }
        let clock = VirtualClock()
        #expect(try await storage(server, clock: clock, freshCredentials: true).listObjects(bucket: "bkt").isEmpty)
        #expect(clock.sleeps.count == 1)
    }
}
