import Foundation
import Testing
@testable import QCOW2

/// Hostile images at the table level: L1/L2/refcount entries and offsets
/// that point outside the file, into the header, at garbage; huge sizes and
/// offsets; truncation at every length. The reader and the inspector must
/// refuse each with the right ``QCOW2Error`` reason, never crash, never read
/// outside the file, never allocate by what the image claims. These pin the
/// classes of input the `qcow2-image` fuzz target (bench/fuzz) explores.
@Suite("QCOW2 reader and inspector on hostile images")
struct QCOW2HostileInputTests {
    // A hand-made version 3 image with 512-byte clusters and a 4 KiB disk:
    //   cluster 0 header, 1 L1 table, 2 refcount table, 3 refcount block,
    //   4 L2 table (entry 0: data at cluster 5, entry 1: zero flag), 5 data.
    static let clusterSize = 512
    static let l1Offset = 512, refcountTableOffset = 1024, refcountBlockOffset = 1536
    static let l2Offset = 2048, dataOffset = 2560
    static let copied: UInt64 = 1 << 63
    static let compressed: UInt64 = 1 << 62

    static func image() -> [UInt8] {
        var image = [UInt8](repeating: 0, count: 6 * clusterSize)
        let header = QCOW2Header(virtualSize: 4096, clusterBits: 9, l1Size: 1, l1TableOffset: UInt64(l1Offset),
                                 refcountTableOffset: UInt64(refcountTableOffset), refcountTableClusters: 1)
        let encoded = header.encoded()
        image.replaceSubrange(0..<encoded.count, with: encoded)
        store(&image, at: l1Offset, copied | UInt64(l2Offset))
        store(&image, at: refcountTableOffset, UInt64(refcountBlockOffset))
        for cluster in 0..<6 { image[refcountBlockOffset + cluster * 2 + 1] = 1 }
        store(&image, at: l2Offset, copied | UInt64(dataOffset))
        store(&image, at: l2Offset + 8, 1)
        for index in dataOffset..<(dataOffset + clusterSize) { image[index] = 0xAB }
        return image
    }

    static func store(_ image: inout [UInt8], at offset: Int, _ value: UInt64, width: Int = 8) {
        for index in 0..<width {
            image[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - index)))
        }
    }

    static func patched(_ offset: Int, _ value: UInt64, width: Int = 8, in base: [UInt8] = image()) -> [UInt8] {
        var copy = base
        store(&copy, at: offset, value, width: width)
        return copy
    }

    /// Writes `bytes` to a scratch file and calls `body` with its path.
    func withImage<R>(_ bytes: [UInt8], _ body: (String) throws -> R) throws -> R {
        let scratch = try ScratchDirectory()
        let path = scratch.file("hostile.qcow2")
        try writeFile(path, bytes)
        return try body(path)
    }

    /// The reason `body` fails with; `nil` when it succeeds. Any error other
    /// than QCOW2Error fails the test.
    func reason(_ body: () throws -> Void) -> QCOW2Error.Reason? {
        do {
            try body()
            return nil
        } catch let error as QCOW2Error {
            return error.reason
        } catch {
            Issue.record("not a QCOW2Error: \(error)")
            return nil
        }
    }

    func inspectReason(_ bytes: [UInt8]) throws -> QCOW2Error.Reason? {
        try withImage(bytes) { path in reason { _ = try QCOW2Inspector.inspect(path: path) } }
    }

    /// The reason reading the whole disk fails with (after opening it).
    func readReason(_ bytes: [UInt8]) throws -> QCOW2Error.Reason? {
        try withImage(bytes) { path in
            reason {
                let reader = try QCOW2Reader(path: path)
                _ = try reader.read(at: 0, count: Int(reader.virtualSize))
            }
        }
    }

    @Test func theHandMadeImageIsValid() throws {
        let inspection = try withImage(Self.image()) { try QCOW2Inspector.inspect(path: $0) }
        #expect(inspection.dataClusterCount == 1 && inspection.zeroClusterCount == 1 && inspection.l2TableCount == 1)
        #expect(inspection.refcountBlockCount == 1 && inspection.requiredFileSize == 3072)
        try withImage(Self.image()) { path in
            let reader = try QCOW2Reader(path: path)
            #expect(try reader.read(at: 0, count: 512) == [UInt8](repeating: 0xAB, count: 512))
            #expect(try reader.read(at: 500, count: 3596) == [UInt8](repeating: 0xAB, count: 12) + [UInt8](repeating: 0, count: 3584))
            #expect(try reader.allocatedRanges() == [0..<512])
        }
        // qemu-img agrees that the image is sound.
        try withImage(Self.image()) { path in
            let check = try run(["qemu-img", "check", "-f", "qcow2", path])
            #expect(check.status == 0, "qemu-img check: \(check.stdout) \(check.stderr)")
        }
    }

    @Test func readsOutsideTheDiskAreRefused() throws {
        try withImage(Self.image()) { path in
            let reader = try QCOW2Reader(path: path)
            #expect(reason { _ = try reader.read(at: 4096, count: 1) } == .invalidArgument)
            #expect(reason { _ = try reader.read(at: 4000, count: 97) } == .invalidArgument)
            #expect(reason { _ = try reader.read(at: UInt64.max, count: 1) } == .invalidArgument)
            // offset + count overflows UInt64: refused, not wrapped.
            #expect(reason { _ = try reader.read(at: UInt64.max - 10, count: 20) } == .invalidArgument)
            #expect(try reader.read(at: 4096, count: 0) == [])
            #expect(try reader.read(at: 4095, count: 1) == [0])
        }
    }

    @Test func l1EntriesPointingOutsideTheFile() throws {
        let pastEnd = Self.patched(Self.l1Offset, Self.copied | 1 << 40)
        #expect(try inspectReason(pastEnd) == .truncated)
        #expect(try readReason(pastEnd) == .truncated)
        let hugeOffset = Self.patched(Self.l1Offset, Self.copied | 0x00FF_FFFF_FFFF_FE00)
        #expect(try inspectReason(hugeOffset) == .truncated)
        #expect(try readReason(hugeOffset) == .truncated)
        // The table's last cluster starts inside the file but ends past it.
        let straddling = Self.patched(Self.l1Offset, Self.copied | 3072)
        #expect(try readReason(straddling) == .truncated)
        let reservedBits = Self.patched(Self.l1Offset, Self.copied | UInt64(Self.l2Offset) | 0x100)
        #expect(try inspectReason(reservedBits) == .corrupt)
        #expect(try readReason(reservedBits) == .corrupt)
    }

    @Test func l2EntriesPointingOutsideTheFileOrAtGarbage() throws {
        let pastEnd = Self.patched(Self.l2Offset, Self.copied | 1 << 40)
        #expect(try inspectReason(pastEnd) == .truncated)
        #expect(try readReason(pastEnd) == .truncated)
        let reservedBits = Self.patched(Self.l2Offset, Self.copied | UInt64(Self.dataOffset) | 0x100)
        #expect(try inspectReason(reservedBits) == .corrupt)
        #expect(try readReason(reservedBits) == .corrupt)
        // A compressed cluster whose bytes are not deflate: the inspector
        // does not inflate (documented), the reader refuses it.
        let garbage = Self.patched(Self.l2Offset, Self.compressed | UInt64(Self.dataOffset))
        #expect(try inspectReason(garbage) == nil)
        #expect(try readReason(garbage) == .corrupt)
        let compressedPastEnd = Self.patched(Self.l2Offset, Self.compressed | 1 << 40)
        #expect(try inspectReason(compressedPastEnd) == .truncated)
        #expect(try readReason(compressedPastEnd) == .truncated)
        // A compressed cluster inside the header cluster.
        let compressedInHeader = Self.patched(Self.l2Offset, Self.compressed | 200)
        #expect(try readReason(compressedInHeader) == .corrupt)
    }

    @Test func zeroFlagInAVersion2ImageIsCorrupt() throws {
        // Version 2 reads the same fields from the first 72 bytes; bytes
        // 72... (zero here) then end the (empty) extension list.
        let version2 = Self.patched(4, 2, width: 4)
        try withImage(version2) { path in
            let reader = try QCOW2Reader(path: path)
            #expect(try reader.read(at: 0, count: 512) == [UInt8](repeating: 0xAB, count: 512))
            #expect(reason { _ = try reader.read(at: 512, count: 1) } == .corrupt)
        }
        #expect(try inspectReason(version2) == .corrupt)
    }

    @Test func hugeTableSizesAndOffsets() throws {
        // An L1 table of 2^32 - 1 entries (32 GiB): refused before allocating.
        #expect(try readReason(Self.patched(36, 0xFFFF_FFFF, width: 4)) == .unsupportedFeature)
        // An L1 table too small for the virtual size.
        #expect(try readReason(Self.patched(24, 1 << 40)) == .corrupt)
        // A 512 GiB disk whose (large enough) L1 table of 2^24 entries
        // exceeds the 32 MiB limit; at 2^62 bytes the same table is too small.
        #expect(try readReason(Self.patched(36, 0x0100_0000, width: 4, in: Self.patched(24, 1 << 39))) == .unsupportedFeature)
        #expect(try readReason(Self.patched(36, 0x0100_0000, width: 4, in: Self.patched(24, 1 << 62))) == .corrupt)
        #expect(try readReason(Self.patched(24, UInt64.max)) == .corrupt)
        // L1 table offsets at the end of the address space, unaligned, in the header.
        #expect(try readReason(Self.patched(40, 0xFFFF_FFFF_FFFF_FE00)) == .truncated)
        #expect(try readReason(Self.patched(40, 0xFFFF_FFFF_FFFF_FFFF)) == .corrupt)
        #expect(try readReason(Self.patched(40, 0)) == .corrupt)
        // Refcount tables: 2^32 - 1 clusters, offsets past the end, blocks past the end.
        #expect(try inspectReason(Self.patched(56, 0xFFFF_FFFF, width: 4)) == .truncated)
        #expect(try inspectReason(Self.patched(56, 0, width: 4)) == .corrupt)
        #expect(try inspectReason(Self.patched(48, 0xFFFF_FFFF_FFFF_FE00)) == .truncated)
        #expect(try inspectReason(Self.patched(48, 1000)) == .corrupt)
        #expect(try inspectReason(Self.patched(Self.refcountTableOffset, 1 << 40)) == .truncated)
        #expect(try inspectReason(Self.patched(Self.refcountTableOffset, 0xFFFF_FFFF_FFFF_FE00)) == .truncated)
        #expect(try inspectReason(Self.patched(Self.refcountTableOffset, UInt64(Self.refcountBlockOffset) | 1)) == .corrupt)
        // Header fields: extension claiming 4 GiB, backing file name past the end.
        #expect(try inspectReason(Self.patched(116, 0xFFFF_FFFF, width: 4, in: Self.patched(112, 0x1234, width: 4))) == .corrupt)
        #expect(try inspectReason(Self.patched(16, 1023, width: 4, in: Self.patched(8, 0xFFFF_FFFF_FFFF_FF00))) == .backingFile)
    }

    @Test func sharedClustersAreReadNotMultiplied() throws {
        // Every virtual cluster maps the same host cluster (legal for reading,
        // and the amplification the fuzz harness bounds): memory stays per call.
        var image = Self.image()
        for slot in 0..<8 { Self.store(&image, at: Self.l2Offset + slot * 8, Self.copied | UInt64(Self.dataOffset)) }
        try withImage(image) { path in
            let reader = try QCOW2Reader(path: path)
            #expect(try reader.allocatedRanges() == [0..<4096])
            #expect(try reader.read(at: 0, count: 4096) == [UInt8](repeating: 0xAB, count: 4096))
        }
    }

    @Test func everyTruncationIsReportedAsTruncated() throws {
        let image = Self.image()
        for length in stride(from: 0, to: image.count, by: 8) {
            #expect(try inspectReason(Array(image.prefix(length))) == .truncated, "prefix of \(length) bytes")
        }
    }

    @Test func randomCorruptionOnlyEverThrowsQCOW2Errors() throws {
        // A deterministic miniature of the fuzz target, for plain `swift test`.
        var random = DeterministicBytes(seed: 7)
        let base = Self.image()
        let scratch = try ScratchDirectory()
        let path = scratch.file("mutant.qcow2")
        for _ in 0..<400 {
            var mutant = base
            for _ in 0..<Int(random.next() % 4 + 1) {
                let offset = Int(random.next() % UInt64(mutant.count))
                mutant[offset] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 4 == 0 { mutant.removeLast(Int(random.next() % UInt64(mutant.count))) }
            try writeFile(path, mutant)
            _ = reason { _ = try QCOW2Inspector.inspect(path: path) }
            _ = reason {
                let reader = try QCOW2Reader(path: path)
                for range in try reader.allocatedRanges().prefix(16) {
                    _ = try reader.read(at: range.lowerBound, count: Int(min(range.count, 1 << 20)))
                }
            }
        }
    }
}
