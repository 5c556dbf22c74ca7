import Foundation
import Testing
@testable import QCOW2

@Suite("QCOW2Reader on images made by qemu-img")
struct ReaderTests {
    /// A raw disk of `size` bytes mixing compressible text, random bytes,
    /// zero runs and holes.
    static func makeRawDisk(_ path: String, size: UInt64, seed: UInt64) throws {
        var random = DeterministicBytes(seed: seed)
        var pieces: [(UInt64, [UInt8])] = []
        var offset: UInt64 = 4096
        var index = 0
        while offset + 300_000 < size {
            let length = Int(random.next() % 250_000) + 1
            var bytes: [UInt8]
            switch index % 3 {
            case 0: bytes = Array(String(repeating: "plakar scaleway qcow2 \(index) ", count: length / 24 + 1).utf8.prefix(length))
            case 1: bytes = random.bytes(length)
            default:
                bytes = random.bytes(length)
                for zero in (length / 4)..<(length / 2) { bytes[zero] = 0 }
            }
            pieces.append((offset, bytes))
            offset += UInt64(length) + random.next() % 400_000
            index += 1
        }
        pieces.append((size - 700, random.bytes(700)))
        try makeSparseFile(path, size: size, pieces: pieces)
    }

    static let variants: [[String]] = [
        [],
        ["-c"],
        ["-o", "compat=0.10"],
        ["-c", "-o", "compat=0.10"],
        ["-o", "cluster_size=512"],
        ["-c", "-o", "cluster_size=4096"],
        ["-o", "cluster_size=2M"],
        ["-c", "-o", "cluster_size=2M,compat=0.10"],
    ]

    @Test(arguments: variants.indices)
    func readsQemuImages(variant: Int) throws {
        let options = Self.variants[variant]
        let scratch = try ScratchDirectory()
        let raw = scratch.file("disk.raw")
        let size: UInt64 = 16 << 20
        try Self.makeRawDisk(raw, size: size, seed: UInt64(variant) + 1)
        let image = scratch.file("disk.qcow2")
        try run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2"] + options + [raw, image])

        let reader = try QCOW2Reader(path: image)
        #expect(reader.virtualSize == size)
        #expect(reader.header.version == (options.contains { $0.contains("compat=0.10") } ? 2 : 3))
        let inspection = try QCOW2Inspector.inspect(path: image)
        if options.contains("-c") { #expect(inspection.compressedClusterCount > 0) }

        let copy = scratch.file("copy.raw")
        try reader.copy(toSparseFileAt: copy)
        #expect(try filesEqual(raw, copy), "reader output differs from the raw disk for \(options)")

        // Random reads across cluster and table boundaries.
        let rawBytes = try readFile(raw)
        var random = DeterministicBytes(seed: 99)
        for _ in 0..<40 {
            let offset = random.next() % size
            let count = Int(min(size - offset, random.next() % 300_000))
            let got = try reader.read(at: offset, count: count)
            #expect(sameBytes(got[...], rawBytes[Int(offset)..<(Int(offset) + count)]), "read at \(offset) (\(count) bytes) differs for \(options)")
        }

        // Every byte outside the allocated ranges is zero.
        var covered: UInt64 = 0
        var previousEnd: UInt64 = 0
        try reader.forEachAllocatedRange { range in
            #expect(range.lowerBound >= previousEnd)
            #expect(allZero(rawBytes[Int(previousEnd)..<Int(range.lowerBound)]))
            previousEnd = range.upperBound
            covered += UInt64(range.count)
        }
        #expect(allZero(rawBytes[Int(previousEnd)...]))
        if reader.header.clusterSize <= 65536 { #expect(covered < size, "holes must stay unallocated") }
    }

    @Test func zeroFlagClusters() throws {
        let scratch = try ScratchDirectory()
        let image = scratch.file("zero.qcow2")
        try qemuImg("create", "-f", "qcow2", image, "4M")
        try run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 1M", "-c", "write -z 64k 128k",
                 "-c", "write -z 2M 64k", image])
        let reader = try QCOW2Reader(path: image)
        let inspection = try QCOW2Inspector.inspect(path: image)
        #expect(inspection.zeroClusterCount >= 2)
        let bytes = try reader.read(at: 0, count: 4 << 20)
        for index in stride(from: 0, to: bytes.count, by: 4096) {
            let expected: UInt8 = (index < 1 << 20 && !(index >= 64 << 10 && index < 192 << 10)) ? 0xab : 0
            #expect(bytes[index] == expected, "byte \(index)")
        }
        #expect(try reader.allocatedRanges() == [0..<(64 << 10), (192 << 10)..<(1 << 20)])
    }

    @Test func readsOurOwnImages() throws {
        var random = DeterministicBytes(seed: 3)
        var bytes = random.bytes(1 << 20)
        for index in 200_000..<400_000 { bytes[index] = 0 }
        let scratch = try ScratchDirectory()
        let image = scratch.file("own.qcow2")
        let fd = open(image, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let writer = QCOW2Writer(source: MemorySource(bytes: bytes, virtualSize: 3 << 20))
        try writer.write(try writer.plan(), toFileDescriptor: fd)
        close(fd)
        let reader = try QCOW2Reader(path: image)
        #expect(try reader.read(at: 0, count: bytes.count) == bytes)
        #expect(try reader.read(at: 1 << 20, count: 2 << 20).allSatisfy { $0 == 0 })
        #expect(try reader.allocatedRanges() == [0..<(256 << 10), (384 << 10)..<(1 << 20)])
        #expect(throws: QCOW2Error.self) { try reader.read(at: 3 << 20, count: 1) }
        let inspection = try QCOW2Inspector.inspect(path: image)
        #expect(inspection.requiredFileSize == inspection.fileSize)
        #expect(inspection.dataClusterCount == 14)
    }
}
