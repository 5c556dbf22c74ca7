import Foundation
import Testing
@testable import QCOW2

@Suite("QCOW2StreamInspector")
struct StreamInspectorTests {
    func streamed(_ bytes: [UInt8], seed: UInt64, maxChunk: Int = 100_000) throws -> QCOW2StreamInspection {
        var inspector = QCOW2StreamInspector()
        var random = DeterministicBytes(seed: seed)
        var offset = 0
        while offset < bytes.count {
            let length = min(bytes.count - offset, 1 + Int(random.next() % UInt64(maxChunk)))
            try inspector.consume(Array(bytes[offset..<(offset + length)]))
            offset += length
        }
        return try inspector.finish()
    }

    @Test func agreesWithTheFileInspector() throws {
        let scratch = try ScratchDirectory()
        for compressed in [false, true] {
            let image = try HostileInputTests.sampleImage(scratch, compressed: compressed)
            let bytes = try readFile(image)
            let whole = try QCOW2Inspector.inspect(path: image)
            for seed in 1...4 as ClosedRange<UInt64> {
                let result = try streamed(bytes, seed: seed, maxChunk: seed == 1 ? 7 : 100_000)
                #expect(result.requiredFileSize == whole.requiredFileSize)
                #expect(result.dataClusterCount == whole.dataClusterCount)
                #expect(result.compressedClusterCount == whole.compressedClusterCount)
                #expect(result.l2TablesChecked == whole.l2TableCount)
                #expect(result.unverifiedL2Tables == 0)
            }
        }
    }

    @Test func checksOurWriterOutputAsItIsProduced() throws {
        var random = DeterministicBytes(seed: 8)
        let writer = QCOW2Writer(source: MemorySource(bytes: random.bytes(3 << 20), virtualSize: 2 << 30))
        let plan = try writer.plan()
        var inspector = QCOW2StreamInspector(virtualSizeRange: 1...(1 << 40))
        var image: [UInt8] = []
        try writer.write(plan) { chunk in
            try inspector.consume(chunk)
            image.append(contentsOf: chunk)
        }
        let result = try inspector.finish()
        #expect(result.imageSize == plan.imageSize)
        #expect(result.requiredFileSize == plan.imageSize)
        #expect(result.dataClusterCount == plan.dataClusterCount)

        // Every cut of the stream is refused.
        var random2 = DeterministicBytes(seed: 1)
        for _ in 0..<25 {
            let cut = Int(random2.next() % UInt64(image.count))
            #expect(throws: QCOW2Error.self) { _ = try streamed(Array(image.prefix(cut)), seed: 3) }
        }
    }

    @Test func refusesPolicyViolationsEarly() throws {
        let scratch = try ScratchDirectory()
        let image = scratch.file("zstd.qcow2")
        try qemuImg("create", "-f", "qcow2", "-o", "compression_type=zstd", image, "64M")
        var inspector = QCOW2StreamInspector()
        do {
            try inspector.consume(Array(try readFile(image).prefix(4096)))
            Issue.record("zstd image accepted")
        } catch let error as QCOW2Error {
            #expect(error.reason == .zstdCompression)
        }
    }

    @Test func truncatedQemuImagesAreRefused() throws {
        let scratch = try ScratchDirectory()
        let image = try HostileInputTests.sampleImage(scratch, compressed: true)
        let bytes = try readFile(image)
        for fraction in 1..<20 {
            let cut = bytes.count * fraction / 20
            do {
                _ = try streamed(Array(bytes.prefix(cut)), seed: UInt64(fraction))
                Issue.record("a stream cut at \(cut) of \(bytes.count) bytes was accepted")
            } catch let error as QCOW2Error {
                #expect(error.reason == .truncated, "cut at \(cut): \(error)")
            }
        }
    }
}
