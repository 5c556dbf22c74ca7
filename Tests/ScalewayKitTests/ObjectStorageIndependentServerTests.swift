import Foundation
import Synchronization
import Testing
@testable import ScalewayKit

/// The Object Storage client against an S3 implementation that is not ours
/// (`rclone serve s3`), so the signer is judged by an independent verifier.
@Suite struct ObjectStorageIndependentServerTests {
    static let accessKey = "SCWTESTACCESSKEY0001"
    static let secretKey = "11111111-2222-3333-4444-555555555555"

    /// An `rclone serve s3` process on a temporary directory holding bucket `bkt`.
    final class RcloneS3: @unchecked Sendable {
        // @unchecked Sendable invariant: immutable after init.
        let directory: String
        let process: ChildProcess

        init() async throws {
            directory = NSTemporaryDirectory() + "rclone-s3-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory + "/bkt", withIntermediateDirectories: true)
            let port = try TestSupport.freePort()
            process = try ChildProcess("rclone", ["serve", "s3", "--addr", "127.0.0.1:\(port)",
                                                  "--auth-key", "\(accessKey),\(secretKey)", "--config", "/dev/null", directory], port: port)
            try await TestSupport.waitForPort(port)
        }

        var endpoint: String { "http://127.0.0.1:\(process.port)" }

        func stop() {
            process.stop()
            removeDirectoryInBackground(directory)
        }

        deinit { stop() }
    }

    func client(_ server: RcloneS3, secret: String = secretKey, partSize: Int64 = 5 << 20) throws -> ObjectStorageClient {
        try ObjectStorageClient(transport: try Transport(),
                                credentials: ScalewayCredentials(accessKey: Self.accessKey, secretKey: secret), region: .frPar,
                                endpoints: ScalewayEndpoints(s3Endpoint: server.endpoint),
                                options: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10)),
                                                              partSize: PartSizePolicy(preferredPartSize: partSize),
                                                              uploadConcurrency: 2, downloadRangeSize: 1 << 20))
    }

    static func pattern(_ count: Int, seed: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed &+ $0 >> 9) } }

    @Test func singlePutRangedGetListAndDelete() async throws {
        let server = try await RcloneS3()
        defer { server.stop() }
        let storage = try client(server)
        let keys = ["plain.txt", "dir with space/é+ü=~.bin", "a/b/c.qcow2"]
        for (index, key) in keys.enumerated() {
            let data = Self.pattern(10_000 + index, seed: index)
            let result = try await storage.putObject(bucket: "bkt", key: key, bytes: data, contentType: "application/octet-stream")
            #expect(result.size == Int64(data.count))
            let meta = try await storage.headObject(bucket: "bkt", key: key)
            #expect(meta.contentLength == Int64(data.count))
            #expect(try await storage.getObjectBytes(bucket: "bkt", key: key) == data)
            #expect(try await storage.getObjectBytes(bucket: "bkt", key: key, range: ByteRange(offset: 17, length: 1000)) == Array(data[17..<1017]))
            #expect(try await storage.getObjectBytes(bucket: "bkt", key: key, range: ByteRange(offset: 9000)) == Array(data[9000...]))
        }
        // An empty object (like an export's placeholder) reads as zero bytes.
        try await storage.putObject(bucket: "bkt", key: "empty", bytes: [])
        #expect(try await storage.headObject(bucket: "bkt", key: "empty").contentLength == 0)
        #expect(try await storage.getObjectBytes(bucket: "bkt", key: "empty").isEmpty)
        try await storage.deleteObject(bucket: "bkt", key: "empty")
        #expect(try await storage.bucketExists("bkt"))
        #expect(try await !storage.bucketExists("nope"))
        let listed = try await storage.listObjects(bucket: "bkt")
        #expect(Set(listed.map(\.key)) == Set(keys))
        #expect(try await storage.listObjects(bucket: "bkt", prefix: "a/").map(\.key) == ["a/b/c.qcow2"])
        // Pagination: one key per page.
        var token: String? = nil
        var paged: [String] = []
        repeat {
            let page = try await storage.listObjectsPage(bucket: "bkt", continuationToken: token, maxKeys: 1)
            paged += page.objects.map(\.key)
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        #expect(Set(paged) == Set(keys) && paged.count == keys.count)

        try await storage.deleteObject(bucket: "bkt", key: keys[0])
        let notFound = await #expect(throws: S3Error.self) { _ = try await storage.headObject(bucket: "bkt", key: keys[0]) }
        #expect(notFound?.isNotFound == true)
        let failures = try await storage.deleteObjects(bucket: "bkt", keys: Array(keys[1...]))
        #expect(failures.isEmpty)
        #expect(try await storage.listObjects(bucket: "bkt").isEmpty)
    }

    @Test func multipartUploadsFromAFileAndFromAStream() async throws {
        let server = try await RcloneS3()
        defer { server.stop() }
        let storage = try client(server)
        let data = Self.pattern(12 << 20 | 12345, seed: 7)
        let path = NSTemporaryDirectory() + "upload-\(UUID().uuidString)"
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let fromFile = try await storage.uploadFile(bucket: "bkt", key: "file.qcow2", path: path, contentType: "application/x-qemu-disk")
        #expect(fromFile.partCount == 3 && fromFile.size == Int64(data.count))
        #expect(fromFile.etag?.hasSuffix("-3") == true)

        // The restore flow's shape: chunks of 1 MiB (the last one short) pushed into a writer.
        let writer = storage.makeMultipartWriter(bucket: "bkt", key: "stream.qcow2", expectedSize: Int64(data.count))
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + (1 << 20))
            try await writer.append(contentsOf: data[offset..<end])
            offset = end
        }
        let fromStream = try await writer.finish()
        #expect(fromStream.partCount == 3 && fromStream.size == Int64(data.count))

        // A small stream goes as one PUT.
        let small = storage.makeMultipartWriter(bucket: "bkt", key: "small.json")
        try await small.append(Array("{\"ok\":true}".utf8))
        #expect(try await small.finish().partCount == 0)

        for key in ["file.qcow2", "stream.qcow2"] {
            let received = Mutex<[UInt8]>([])
            let meta = try await storage.downloadObject(bucket: "bkt", key: key, concurrency: 4) { offset, piece in
                received.withLock { buffer in
                    if buffer.count < Int(offset) + piece.count { buffer += [UInt8](repeating: 0, count: Int(offset) + piece.count - buffer.count) }
                    buffer.replaceSubrange(Int(offset)..<(Int(offset) + piece.count), with: piece)
                }
            }
            #expect(meta.contentLength == Int64(data.count))
            #expect(received.withLock { $0 } == data, "\(key) round trip")
        }
        #expect(try await storage.listMultipartUploads(bucket: "bkt").isEmpty)
    }

    @Test func abortedUploadsLeaveNothingBehind() async throws {
        let server = try await RcloneS3()
        defer { server.stop() }
        let storage = try client(server)
        let id = try await storage.createMultipartUpload(bucket: "bkt", key: "left/over.qcow2")
        _ = try await storage.uploadPart(bucket: "bkt", key: "left/over.qcow2", uploadID: id, partNumber: 1,
                                         bytes: Self.pattern(5 << 20, seed: 1)[...])
        #expect(try await storage.listMultipartUploads(bucket: "bkt", prefix: "left/").map(\.uploadID) == [id])
        try await storage.abortMultipartUpload(bucket: "bkt", key: "left/over.qcow2", uploadID: id)
        #expect(try await storage.listMultipartUploads(bucket: "bkt").isEmpty)

        // A writer whose size turns out wrong fails and aborts its upload.
        let writer = storage.makeMultipartWriter(bucket: "bkt", key: "short.qcow2", expectedSize: 20 << 20)
        try await writer.append(Self.pattern(6 << 20, seed: 2))
        await #expect(throws: ObjectStorageIntegrityError.self) { _ = try await writer.finish() }
        await #expect(throws: ObjectStorageIntegrityError.self) { try await writer.append([1]) }
        #expect(try await storage.listMultipartUploads(bucket: "bkt").isEmpty)
        #expect(try await !storage.listObjects(bucket: "bkt").contains { $0.key == "short.qcow2" })
    }

    @Test func wrongSecretIsRefused() async throws {
        let server = try await RcloneS3()
        defer { server.stop() }
        let storage = try client(server, secret: "00000000-0000-0000-0000-000000000000")
        let error = await #expect(throws: S3Error.self) { _ = try await storage.putObject(bucket: "bkt", key: "x", bytes: [1, 2, 3]) }
        #expect(error?.httpStatus == 403)
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(error?.description.contains("secret_key") == true)
        #expect(try await client(server).listObjects(bucket: "bkt").isEmpty)
    }
}
