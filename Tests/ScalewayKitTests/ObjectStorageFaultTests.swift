import Foundation
import Synchronization
import Testing
@testable import ScalewayKit

/// Object Storage downloads under injected faults: connections reset
/// mid-body, servers that ignore Range, parallel ranged reads.
@Suite struct ObjectStorageFaultTests {
    static let credentials = ScalewayCredentials(accessKey: "SCWTESTACCESSKEY0001", secretKey: "11111111-2222-3333-4444-555555555555")

    func client(_ server: ScriptedServer, clock: VirtualClock = VirtualClock(), rangeSize: Int64 = 1 << 20) throws -> ObjectStorageClient {
        try ObjectStorageClient(transport: try Transport(), credentials: Self.credentials, region: .frPar,
                                endpoints: ScalewayEndpoints(s3Endpoint: server.baseURL),
                                options: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(10)),
                                                              downloadRangeSize: rangeSize, clock: clock))
    }

    @Test func getResumesFromTheLastByteAfterResets() async throws {
        let size = 3_000_000
        let server = try await ScriptedServer(plan: ["objects": ["/bkt/disk.qcow2": ["size": size, "seed": 3, "drop_after": [100_000, 1_400_000]]]])
        defer { server.stop() }
        let storage = try client(server)
        let received = Mutex<[UInt8]>([])
        let meta = try await storage.getObject(bucket: "bkt", key: "disk.qcow2") { bytes in received.withLock { $0.append(contentsOf: bytes) } }
        #expect(meta.contentLength == Int64(size) && meta.etag == "etag-3")
        #expect(received.withLock { $0 } == ScriptedServer.content(seed: 3, range: 0..<size))
        let gets = try server.log().filter { $0.method == "GET" }
        #expect(gets.count == 3)
        #expect(gets[0].header("Range") == nil && gets[0].path == "/bkt/disk.qcow2")
        #expect(gets[1].header("Range") == "bytes=100000-" && gets[1].header("If-Match") == "\"etag-3\"")
        // The server resets only once the client acknowledged every byte it
        // sent, so each resume starts exactly where that response stopped.
        #expect(gets[2].header("Range") == "bytes=1500000-" && gets[2].header("If-Match") == "\"etag-3\"")
        #expect(gets.allSatisfy { $0.header("Authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=SCWTESTACCESSKEY0001/") == true })
        #expect(gets.allSatisfy { $0.header("x-amz-content-sha256") == SigV4Signer.emptyPayloadHash })
    }

    @Test func rangedGetResumesWithinItsRange() async throws {
        let server = try await ScriptedServer(plan: ["objects": ["/bkt/o": ["size": 5_000_000, "seed": 9, "drop_after": [50_000]]]])
        defer { server.stop() }
        let bytes = try await client(server).getObjectBytes(bucket: "bkt", key: "o", range: ByteRange(offset: 1000, length: 2_000_000))
        #expect(bytes == ScriptedServer.content(seed: 9, range: 1000..<2_001_000))
        let ranges = try server.log().filter { $0.method == "GET" }.map { $0.header("Range") }
        #expect(ranges == ["bytes=1000-2000999", "bytes=51000-2000999"])
    }

    @Test func resumeSkipsWhatAServerIgnoringRangeResends() async throws {
        let server = try await ScriptedServer(plan: ["objects": ["/bkt/o": ["size": 400_000, "seed": 5, "drop_after": [123_457], "ignore_range": true]]])
        defer { server.stop() }
        let bytes = try await client(server).getObjectBytes(bucket: "bkt", key: "o")
        #expect(bytes == ScriptedServer.content(seed: 5, range: 0..<400_000))
    }

    @Test func tooManyResetsFailWithTheTransportError() async throws {
        let server = try await ScriptedServer(plan: ["objects": ["/bkt/o": ["size": 400_000, "seed": 1, "drop_after": [10, 10, 10, 10, 10]]]])
        defer { server.stop() }
        let clock = VirtualClock()
        let error = await #expect(throws: TransportError.self) { _ = try await client(server, clock: clock).getObjectBytes(bucket: "bkt", key: "o") }
        #expect(error?.kind == .connectionLost)
        #expect(clock.sleeps.count == 3)
    }

    @Test func parallelRangedDownloadToAFile() async throws {
        let size = 4_500_000
        let server = try await ScriptedServer(plan: ["objects": ["/bkt/big": ["size": size, "seed": 11, "drop_after": [20_000, 700_000]]]])
        defer { server.stop() }
        let path = NSTemporaryDirectory() + "download-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let meta = try await client(server).downloadObject(bucket: "bkt", key: "big", toFile: path, concurrency: 3)
        #expect(meta.contentLength == Int64(size))
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == ScriptedServer.content(seed: 11, range: 0..<size))
        let gets = try server.log().filter { $0.method == "GET" }
        #expect(gets.count == 5 + 2)  // five 1 MiB ranges, two of them resumed once
        #expect(gets.allSatisfy { $0.header("If-Match") == "\"etag-11\"" })
    }

    @Test func missingObjectIsATypedNotFound() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "HEAD", "path": "/bkt/none", "responses": [["status": 404, "body": ""]]],
            ["method": "GET", "path": "/bkt/none", "responses": [["status": 404, "headers": ["Content-Type": "application/xml"],
                "body": "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>tx1</RequestId></Error>"]]],
        ]])
        defer { server.stop() }
        let storage = try client(server)
        let head = await #expect(throws: S3Error.self) { _ = try await storage.headObject(bucket: "bkt", key: "none") }
        #expect(head?.code == "NoSuchKey" && head?.isNotFound == true)
        let get = await #expect(throws: S3Error.self) { _ = try await storage.getObjectBytes(bucket: "bkt", key: "none") }
        #expect(get?.code == "NoSuchKey" && get?.requestID == "tx1" && get?.message == "The specified key does not exist.")
    }
}
