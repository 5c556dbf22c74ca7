import Crypto
import JSONRPC
import PluginProtocol
import class ScalewayKit.PartBuffer
import Synchronization
import XCTest
@testable import ScalewayConnector

/// The data path's buffers: ImageReader's page answers and MultipartStream's
/// part budget and buffer reuse give back exactly the bytes put in.
final class DataPathTests: XCTestCase {
    static func pattern(_ count: Int, seed: UInt32) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var state = seed | 1
            for i in 0..<count {
                state ^= state << 13; state ^= state >> 17; state ^= state << 5
                buffer[i] = UInt8(truncatingIfNeeded: state)
            }
            initialized = count
        }
    }

    func testImageReaderAnswersEveryShapeOfReadWithTheRightBytes() async throws {
        let cloud = FakeCloud()
        let mib = 1 << 20
        // Two whole blocks, then a block of 1.5 pages and a few bytes.
        let size = 2 * Int(ImageReader.blockSize) + mib + mib / 2 + 123
        let image = Self.pattern(size, seed: 7)
        cloud.state.withLock { $0.objects["img"] = image }
        let reader = ImageReader(store: cloud, bucket: cloud.bucket, key: "img", size: Int64(size), displayPath: "/img")

        // Plakar's shape: aligned 1 MiB reads (page answers), the last one short.
        var whole: [UInt8] = []
        var offset = 0
        while true {
            let chunk = try await reader.read(offset: Int64(offset), length: mib)
            whole += chunk.bytes
            offset += chunk.bytes.count
            XCTAssertEqual(chunk.eof, offset == size)
            if chunk.eof { break }
        }
        XCTAssertEqual(whole, image)

        // Unaligned, across a page and a block boundary, longer than a page, the tail.
        let block = Int(ImageReader.blockSize)
        for (start, length) in [(block - 100, mib), (mib - 1, 2), (block - mib / 2, 3 * mib), (size - 10, 100),
                                (size - mib / 2 - 123, mib), (0, 5 * mib + 7), (2 * block, mib / 2)] {
            let chunk = try await reader.read(offset: Int64(start), length: length)
            let end = min(size, start + length)
            XCTAssertEqual(chunk.bytes, Array(image[start..<end]), "read at \(start), length \(length)")
            XCTAssertEqual(chunk.eof, end == size, "eof of the read at \(start), length \(length)")
        }
        let past = try await reader.read(offset: Int64(size), length: mib)
        XCTAssertTrue(past.bytes.isEmpty && past.eof)
        await reader.cancelAll()
    }

    func testImageReaderResumesACutBlockIntoItsPages() async throws {
        let cloud = FakeCloud()
        let size = Int(ImageReader.blockSize) + 4096
        let image = Self.pattern(size, seed: 3)
        cloud.state.withLock {
            $0.objects["img"] = image
            $0.cutReadsAfter = (1 << 20) + 17  // mid-page
            $0.cutsLeft = 2
        }
        let reader = ImageReader(store: cloud, bucket: cloud.bucket, key: "img", size: Int64(size), displayPath: "/img")
        let chunk = try await reader.read(offset: 0, length: size)
        XCTAssertEqual(chunk.bytes, image)
        await reader.cancelAll()
    }

    /// Images read side by side share one block budget: read-ahead stops
    /// when the run's blocks fill it, a read never waits for another image,
    /// every byte is right, and images read to their end give their blocks back.
    func testImageReadersShareOneBlockBudget() async throws {
        let cloud = FakeCloud()
        let mib = 1 << 20
        let size = 5 * Int(ImageReader.blockSize) + 77
        let budget = BlockBudget(capacity: 6)
        var images: [[UInt8]] = []
        var readers: [ImageReader] = []
        for n in 0..<3 {
            let image = Self.pattern(size, seed: UInt32(11 + n))
            cloud.state.withLock { $0.objects["img\(n)"] = image }
            images.append(image)
            readers.append(ImageReader(store: cloud, bucket: cloud.bucket, key: "img\(n)", size: Int64(size),
                                       displayPath: "/img\(n)", budget: budget))
        }

        // One image alone: its block and two ahead, as without a shared budget.
        _ = try await readers[0].read(offset: 0, length: mib)
        XCTAssertEqual(budget.heldBlocks, 1 + ImageReader.readahead)

        // Three images read in turn, 1 MiB at a time (Plakar's workers on three files).
        var copies = [[UInt8]](repeating: [], count: 3)
        copies[0] = Array(images[0][0..<mib])
        var mostHeld = 0
        var done = [false, false, false]
        while done.contains(false) {
            for n in 0..<3 where !done[n] {
                let chunk = try await readers[n].read(offset: Int64(copies[n].count), length: mib)
                copies[n] += chunk.bytes
                done[n] = chunk.eof
                mostHeld = max(mostHeld, budget.heldBlocks)
                // Within the budget, or over it by at most one block per image being read.
                XCTAssertLessThanOrEqual(budget.heldBlocks, budget.capacity + readers.count)
            }
        }
        for n in 0..<3 { XCTAssertEqual(copies[n], images[n], "image \(n)") }
        XCTAssertLessThan(mostHeld, readers.count * ImageReader.maxBlocks,
                          "three images share the budget's blocks instead of holding \(ImageReader.maxBlocks) each")
        XCTAssertEqual(budget.heldBlocks, 0, "images read to their end give their blocks back")
        for reader in readers { let held = await reader.heldBlocks; XCTAssertEqual(held, 0) }
    }

    func testABlockBudgetLetsDemandedBlocksOverdrawIt() {
        let budget = BlockBudget(capacity: 2)
        XCTAssertTrue(budget.reserveAhead())
        XCTAssertFalse(budget.reserveDemanded(), "2 of 2: not overdrawn")
        XCTAssertFalse(budget.reserveAhead(), "no room left for read-ahead")
        XCTAssertTrue(budget.reserveDemanded(), "a read's block is taken over the budget, and says so")
        XCTAssertEqual(budget.heldBlocks, 3)
        budget.release(2)
        XCTAssertTrue(budget.reserveAhead())
        budget.release(2)
        XCTAssertEqual(budget.heldBlocks, 0)
    }

    /// A store that keeps a copy of each part, as the server does.
    final class CopyingStore: ObjectStore, @unchecked Sendable {
        let parts = Mutex<[Int: [UInt8]]>([:])
        func bucketRegion(_ bucket: String) async throws -> String { "fr-par" }
        func headObject(bucket: String, key: String) async throws -> ObjectFacts? { nil }
        func getObject(bucket: String, key: String, offset: Int64, length: Int64,
                       sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws {}
        func listObjects(bucket: String, prefix: String) async throws -> [ObjectFacts] { [] }
        func deleteObject(bucket: String, key: String) async throws {}
        func createMultipartUpload(bucket: String, key: String, contentType: String) async throws -> String { "u" }
        func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, part: PartBuffer) async throws -> String {
            XCTAssertEqual(part.sha256, Digest.sha256(part.bytes), "the part is sealed with the hash of its bytes")
            let copy = Array(part.bytes)
            parts.withLock { $0[partNumber] = copy }
            return "etag-\(partNumber)"
        }
        func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws {}
        func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {}
        func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String) async throws {}
        func listMultipartUploads(bucket: String, prefix: String) async throws -> [(key: String, uploadID: String)] { [] }
        /// Parts 1 to `count`, joined.
        func stored(parts count: Int) -> [UInt8] { parts.withLock { parts in (1...count).flatMap { parts[$0] ?? [] } } }
    }

    /// A stream of 5 MiB parts into a ``CopyingStore``, and an image of
    /// `wholeParts` parts and `extra` bytes to send through it.
    func fiveMiBPartStream(wholeParts: Int, extra: Int, seed: UInt32) -> (CopyingStore, [UInt8], MultipartStream) {
        let store = CopyingStore()
        let part = 5 << 20
        return (store, Self.pattern(wholeParts * part + extra, seed: seed),
                MultipartStream(store: store, bucket: "b", key: "k", uploadID: "u", partSize: part))
    }

    func testMultipartStreamRefillsTheBuffersOfUploadedParts() async throws {
        // 5 MiB parts: 3 buffer slots, so the 3rd part's flush waits for the
        // 1st upload, whose buffer the 4th part then refills (deterministic).
        let (store, image, stream) = fiveMiBPartStream(wholeParts: 4, extra: 5, seed: 5)
        var offset = 0
        while offset < image.count {
            let end = min(image.count, offset + (1 << 20))
            try await stream.append(Array(image[offset..<end]))
            offset = end
        }
        let partCount = try await stream.finish()
        XCTAssertEqual(partCount, 5)
        XCTAssertEqual(store.stored(parts: 5), image, "reused buffers must not leak one part's bytes into another")
        let reused = await stream.reusedBuffers
        XCTAssertGreaterThan(reused, 0, "5 parts through 3 buffers: uploaded parts' buffers are refilled")
    }

    func testMultipartStreamDecodesBase64ChunksIntoThePartsAndRefusesBadOnes() async throws {
        let (store, image, stream) = fiveMiBPartStream(wholeParts: 3, extra: 777, seed: 9)
        // Whole MiB chunks (decoded in place), then sizes that straddle part
        // boundaries (decoded, then copied), each preceded by a damaged copy
        // that must be refused without taking a byte.
        var offset = 0
        var sizes = [1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1_000_001, 1 << 20, 2_500_000, 3, 1]
        while offset < image.count {
            let end = min(image.count, offset + (sizes.isEmpty ? 1 << 20 : sizes.removeFirst()))
            let damage = Base64.encodedCount(end - offset) / 2
            do {
                try await stream.append(try RestoreFlowTests.text(image[offset..<end], damagedAt: damage))
                XCTFail("damaged base64 at \(offset) was taken")
            } catch let invalid as Base64Text.Invalid {
                XCTAssertTrue(invalid.response.message.contains("'*' in base64 text at offset \(damage)"), invalid.response.message)
            }
            try await stream.append(try RestoreFlowTests.text(image[offset..<end]))
            offset = end
        }
        let partCount = try await stream.finish()
        XCTAssertEqual(partCount, 4)
        XCTAssertEqual(store.stored(parts: 4), image, "parts hold exactly the good chunks, hashed as they were decoded in")
    }

    func testPartBuffersStayWithinTheBudgetWhateverThePartSize() {
        let mib = 1 << 20
        for image: Int64 in [1 << 30, 4 << 30, 16 << 30, 64 << 30, -1] {
            let part = MultipartStream.partSize(forObjectSize: image)
            let slots = MultipartStream.bufferSlots(forPartSize: part)
            XCTAssertGreaterThanOrEqual(slots, 2, "one part fills while one uploads")
            XCTAssertLessThanOrEqual(slots * part, max(MultipartStream.partMemoryBudget, 2 * part), "image of \(image) bytes")
        }
        XCTAssertEqual(MultipartStream.bufferSlots(forPartSize: 5 * mib), 3, "5 MiB parts (images up to 5 GB): 2 uploads in flight")
        XCTAssertEqual(MultipartStream.bufferSlots(forPartSize: 8 * mib), 2, "8 MiB parts (images of 8 GB): 1 upload in flight")
        XCTAssertEqual(MultipartStream.bufferSlots(forPartSize: 17 * mib), 2, "the 17 MiB parts of a 16 GiB image")
    }

    func testMultipartStreamUploadsTheBytesInOrder() async throws {
        let cloud = FakeCloud()
        let part = 256 << 10  // small parts keep the test fast; the logic is size-independent
        let total = 5 * part + 12345
        let image = Self.pattern(total, seed: 11)
        let uploadID = try await cloud.createMultipartUpload(bucket: cloud.bucket, key: "up", contentType: "application/octet-stream")
        let stream = MultipartStream(store: cloud, bucket: cloud.bucket, key: "up", uploadID: uploadID, partSize: part)
        var offset = 0
        var step = 100_000
        while offset < total {
            let end = min(total, offset + step)
            try await stream.append(Array(image[offset..<end]))
            offset = end
            step = step == 100_000 ? 70_001 : 100_000  // appends that straddle part boundaries
        }
        let parts = try await stream.finish()
        XCTAssertEqual(parts, 6)
        XCTAssertEqual(cloud.object("up"), image)
    }
}
