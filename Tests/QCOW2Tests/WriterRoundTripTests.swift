import Foundation
import Testing
@testable import QCOW2

@Suite("QCOW2Writer against qemu-img")
struct WriterRoundTripTests {
    /// Writes `raw` with our writer, then asks qemu-img to check the image and
    /// convert it back, which must give the same bytes.
    @discardableResult
    func roundTrip(_ scratch: ScratchDirectory, raw: String) throws -> QCOW2WriteResult {
        // The two-pass sequential stream, then the single-pass file writer.
        let writer = QCOW2Writer(source: try SparseFileSource(path: raw))
        let streamed = scratch.file("streamed.qcow2")
        let layout = try writer.plan()
        let fd = open(streamed, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try writer.write(layout, toFileDescriptor: fd)
        close(fd)
        try check(scratch, raw: raw, image: streamed, virtualSize: layout.virtualSize, imageSize: layout.imageSize)

        let image = scratch.file("out.qcow2")
        let plan = try writer.write(toPath: image)
        #expect(plan.virtualSize == layout.virtualSize)
        #expect(plan.dataClusterCount == layout.dataClusterCount)
        #expect(plan.l2TableCount >= layout.l2TableCount)
        try check(scratch, raw: raw, image: image, virtualSize: plan.virtualSize, imageSize: plan.imageSize)
        return plan
    }

    func check(_ scratch: ScratchDirectory, raw: String, image: String, virtualSize: UInt64, imageSize: UInt64) throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: image)
        #expect((attributes[.size] as? NSNumber)?.uint64Value == imageSize)
        try qemuImg("check", "-f", "qcow2", image)
        // QEMU disks are whole sectors: compare with the source padded to 512.
        #expect(virtualSize % 512 == 0)
        let padded = scratch.file("padded.raw")
        try run(["cp", "--sparse=always", raw, padded])
        try run(["truncate", "-s", "%512", padded])
        try qemuImg("compare", "-f", "raw", "-F", "qcow2", padded, image)
        if virtualSize <= 64 << 20 {
            let back = scratch.file("back.raw")
            try qemuImg("convert", "-f", "qcow2", "-O", "raw", image, back)
            #expect(try filesEqual(padded, back), "qemu-img convert of our image differs from the source")
        }
        let info = try qemuImg("info", "--output=json", image).stdout
        #expect(info.contains("\"virtual-size\": \(virtualSize)"))
        #expect(info.contains("\"compat\": \"1.1\""))
        _ = try QCOW2Inspector.inspect(path: image)
    }

    @Test func sparseDiskWithZeroRunsInsideData() throws {
        let scratch = try ScratchDirectory()
        var random = DeterministicBytes(seed: 42)
        let cluster = 65536
        // Data at an odd offset with a zero cluster inside the extent, data
        // across the first L2 boundary (512 MiB) and in a partial last cluster.
        var mixed = random.bytes(cluster * 3)
        for index in cluster..<(2 * cluster) { mixed[index] = 0 }
        let raw = scratch.file("disk.raw")
        let size: UInt64 = (1 << 30) + 12345
        try makeSparseFile(raw, size: size, pieces: [
            (0, random.bytes(512)),
            (UInt64(cluster) * 7, mixed),
            ((512 << 20) - 1000, random.bytes(5000)),
            (size - 300, random.bytes(300)),
        ])
        let plan = try roundTrip(scratch, raw: raw)
        // Regions: [0, 512 MiB), [512 MiB, 1 GiB), the partial last cluster.
        #expect(plan.l2TableCount == 3)
        // Cluster 0, clusters 7 and 9 (8 is zero), two around 512 MiB, the last.
        #expect(plan.dataClusterCount == 6)
    }

    @Test func extentsSharingClustersAndAllZeroRegions() throws {
        let scratch = try ScratchDirectory()
        var random = DeterministicBytes(seed: 21)
        let raw = scratch.file("shared.raw")
        try makeSparseFile(raw, size: 1 << 30, pieces: [
            (0, random.bytes(100)),                                  // two extents in cluster 0
            (16384, random.bytes(100)),
            (600 << 20, [UInt8](repeating: 0, count: 200_000)),     // data extent of zeros only
            ((1 << 30) - 4096, random.bytes(4096)),
        ])
        let plan = try roundTrip(scratch, raw: raw)
        #expect(plan.dataClusterCount == 2)
        let reader = try QCOW2Reader(path: scratch.file("out.qcow2"))
        #expect(try reader.allocatedRanges() == [0..<65536, ((1 << 30) - 65536)..<(1 << 30)])
    }

    @Test func emptyAndTinyDisks() throws {
        let scratch = try ScratchDirectory()
        let raw = scratch.file("empty.raw")
        try makeSparseFile(raw, size: 10 << 20, pieces: [])
        let plan = try roundTrip(scratch, raw: raw)
        #expect(plan.dataClusterCount == 0)
        #expect(plan.l2TableCount == 0)

        let tiny = scratch.file("tiny.raw")
        try makeSparseFile(tiny, size: 1000, pieces: [(10, [1, 2, 3])])
        try roundTrip(scratch, raw: tiny)
    }

    @Test func sequentialOutputMatchesPlan() throws {
        var random = DeterministicBytes(seed: 7)
        let bytes = random.bytes(300_000)
        let writer = QCOW2Writer(source: MemorySource(bytes: bytes, virtualSize: 5 << 30))
        let plan = try writer.plan()
        var image: [UInt8] = []
        try writer.write(plan) { image.append(contentsOf: $0) }
        #expect(UInt64(image.count) == plan.imageSize)
        let header = try QCOW2Header.validate(prefix: image)
        #expect(header.virtualSize == 5 << 30)
        #expect(header.version == 3)
        #expect(header.refcountOrder == 4)
        #expect(header.clusterBits == 16)
    }

    @Test func oneTerabyteVirtualDisk() throws {
        let scratch = try ScratchDirectory()
        var random = DeterministicBytes(seed: 9)
        let raw = scratch.file("big.raw")
        let size: UInt64 = 1 << 40
        try makeSparseFile(raw, size: size, pieces: [
            (0, random.bytes(70_000)),
            (size / 2 + 4096, random.bytes(4096)),
            (size - 65536, random.bytes(65536)),
        ])
        let image = scratch.file("big.qcow2")
        let plan = try QCOW2Writer(source: try SparseFileSource(path: raw)).write(toPath: image)
        #expect(plan.l1Size == 2048)
        #expect(plan.dataClusterCount == 4)
        try qemuImg("check", "-f", "qcow2", image)
        let reader = try QCOW2Reader(path: image)
        #expect(try reader.allocatedRanges() == [0..<131072, (size / 2)..<(size / 2 + 65536), (size - 65536)..<size])
        let tail = try reader.read(at: size - 65536, count: 65536)
        let source = try SparseFileSource(path: raw)
        var expected = [UInt8](repeating: 0, count: 65536)
        try expected.withUnsafeMutableBytes { try source.read(at: size - 65536, into: $0) }
        #expect(tail == expected)
    }
}
