import Foundation
import Testing
@testable import QCOW2

/// Damaged and hostile images must be refused with a ``QCOW2Error``: never a
/// crash, a hang or an unbounded allocation.
@Suite("Hostile and damaged images")
struct HostileInputTests {
    /// A small compressed v3 image with data in two L2 regions (2 KiB clusters
    /// so the metadata is a large share of the file).
    static func sampleImage(_ scratch: ScratchDirectory, compressed: Bool = true) throws -> String {
        let raw = scratch.file("sample.raw")
        var random = DeterministicBytes(seed: 5)
        try makeSparseFile(raw, size: 8 << 20, pieces: [
            (0, Array(String(repeating: "hostile input ", count: 3000).utf8)),
            (600_000, random.bytes(20_000)),
            (3 << 20, Array(repeating: 0x5A, count: 70_000)),
            ((8 << 20) - 5000, random.bytes(5000)),
        ])
        let image = scratch.file("sample.qcow2")
        try run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=2048"]
                + (compressed ? ["-c"] : []) + [raw, image])
        return image
    }

    /// Exercises every entry point on `path`; returns the error, if any.
    @discardableResult
    func exercise(_ path: String) -> QCOW2Error? {
        streamEverything(path)
        do {
            _ = try QCOW2Inspector.inspect(path: path)
        } catch let error as QCOW2Error {
            // The reader must then fail or read consistently; both are fine.
            _ = readEverything(path)
            return error
        } catch {
            Issue.record("non-QCOW2 error \(error)")
        }
        return readEverything(path)
    }

    /// The stream inspector must refuse or accept, never crash.
    func streamEverything(_ path: String) {
        do {
            var inspector = QCOW2StreamInspector()
            let bytes = try readFile(path)
            var offset = 0
            while offset < bytes.count {
                let length = min(bytes.count - offset, 5000)
                try inspector.consume(Array(bytes[offset..<(offset + length)]))
                offset += length
            }
            _ = try inspector.finish()
        } catch is QCOW2Error {
        } catch {
            Issue.record("non-QCOW2 error \(error)")
        }
    }

    func readEverything(_ path: String) -> QCOW2Error? {
        do {
            let reader = try QCOW2Reader(path: path)
            var ranges = 0
            try reader.forEachAllocatedRange { range in
                ranges += 1
                if ranges < 64 {
                    _ = try reader.read(at: range.lowerBound, count: Int(min(UInt64(range.count), 1 << 20)))
                }
            }
            let size = reader.virtualSize
            if size > 0 {
                _ = try reader.read(at: 0, count: Int(min(size, 1 << 20)))
                _ = try reader.read(at: size - min(size, 4096), count: Int(min(size, 4096)))
            }
            return nil
        } catch let error as QCOW2Error {
            return error
        } catch {
            Issue.record("non-QCOW2 error \(error)")
            return nil
        }
    }

    @Test func truncatedImagesAreDetected() throws {
        let scratch = try ScratchDirectory()
        let image = try Self.sampleImage(scratch, compressed: false)
        let bytes = try readFile(image)
        #expect(exercise(image) == nil)
        let cut = scratch.file("cut.qcow2")
        var lengths = Set([0, 3, 71, 104, 111, 2048, 4096, bytes.count / 2, bytes.count - 2048, bytes.count - 1])
        var random = DeterministicBytes(seed: 11)
        for _ in 0..<30 { lengths.insert(Int(random.next() % UInt64(bytes.count))) }
        for length in lengths.sorted() {
            try writeFile(cut, Array(bytes.prefix(length)))
            do {
                _ = try QCOW2Inspector.inspect(path: cut)
                Issue.record("a cut at \(length) of \(bytes.count) bytes passed inspection")
            } catch let error as QCOW2Error {
                #expect(error.reason == .truncated || (length < 4 && error.reason == .truncated),
                        "cut at \(length): \(error)")
            }
            _ = readEverything(cut)
        }
    }

    @Test func truncatedCompressedImagesNeverCrash() throws {
        let scratch = try ScratchDirectory()
        let image = try Self.sampleImage(scratch)
        let bytes = try readFile(image)
        #expect(exercise(image) == nil)
        let cut = scratch.file("cut.qcow2")
        for length in stride(from: bytes.count - 1, to: 0, by: -max(1, bytes.count / 40)) {
            try writeFile(cut, Array(bytes.prefix(length)))
            let error = exercise(cut)
            #expect(error != nil, "a cut at \(length) of \(bytes.count) bytes went unnoticed")
        }
    }

    func forge(_ scratch: ScratchDirectory, _ bytes: [UInt8], at offset: Int, _ value: UInt64, width: Int) throws -> String {
        var copy = bytes
        for index in 0..<width {
            copy[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - index)))
        }
        let path = scratch.file("forged.qcow2")
        try writeFile(path, copy)
        return path
    }

    @Test func hugeAndMisplacedTables() throws {
        let scratch = try ScratchDirectory()
        let image = try Self.sampleImage(scratch, compressed: false)
        let bytes = try readFile(image)
        let header = try QCOW2Header.parse(bytes)
        let l1 = Int(header.l1TableOffset)

        // L1 sizes: larger than QEMU's 32 MiB limit, larger than the file, too small.
        #expect(exercise(try forge(scratch, bytes, at: 36, 0xFFFF_FFFF, width: 4))?.reason == .unsupportedFeature)
        #expect(exercise(try forge(scratch, bytes, at: 36, 1 << 20, width: 4))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: 36, 0, width: 4))?.reason == .corrupt)
        // Virtual size needing an L1 table larger than the one present.
        #expect(exercise(try forge(scratch, bytes, at: 24, UInt64.max, width: 8))?.reason == .corrupt)
        // L1 offsets: unaligned, inside the header, past the end, overflowing.
        #expect(exercise(try forge(scratch, bytes, at: 40, header.l1TableOffset + 8, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: 40, 0, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: 40, 1 << 40, width: 8))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: 40, UInt64.max & ~2047, width: 8))?.reason == .truncated)
        // An empty disk whose unused L1 offset is absurd: harmless.
        var empty = bytes
        for index in 24..<32 { empty[index] = 0 }
        for index in 36..<48 { empty[index] = 0xFF }
        for index in 36..<40 { empty[index] = 0 }
        let emptyPath = scratch.file("empty.qcow2")
        try writeFile(emptyPath, empty)
        #expect(exercise(emptyPath) == nil)
        // Refcount table: unaligned, past the end, absurdly large.
        #expect(exercise(try forge(scratch, bytes, at: 48, header.refcountTableOffset + 1, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: 48, 1 << 50, width: 8))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: 56, 0xFFFF_FFFF, width: 4))?.reason == .truncated)
        // L1 entries: reserved bits, unaligned L2, L2 past the end, L2 inside the header.
        #expect(exercise(try forge(scratch, bytes, at: l1, 0x8000_0000_0000_0001, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: l1, 0x8000_0000_0000_1200, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: l1, 0x0000_0100_0000_0000, width: 8))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: l1, 0x400, width: 8))?.reason == .corrupt)
    }

    @Test func badL2Entries() throws {
        let scratch = try ScratchDirectory()
        let image = try Self.sampleImage(scratch, compressed: false)
        let bytes = try readFile(image)
        let reader = try QCOW2Reader(path: image)
        guard let l2 = try reader.decoder.l2TableOffset(reader.l1Table[0], l1Index: 0) else {
            Issue.record("the sample has no first L2 table")
            return
        }
        let entry = Int(l2)  // the first cluster holds text
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x8000_0000_0000_0A00, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x8000_0000_0000_0002, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x8000_00FF_FFFF_F800, width: 8))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x8000_0000_0000_0000, width: 8)) == nil)
        // Compressed descriptors: past the end, into the header, garbage data.
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x4000_0000_F000_0000, width: 8))?.reason == .truncated)
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x4000_0000_0000_0010, width: 8))?.reason == .corrupt)
        #expect(exercise(try forge(scratch, bytes, at: entry, 0x4000_0000_0000_0000 | UInt64(bytes.count / 2), width: 8))?.reason == .corrupt)
    }

    @Test func randomCorruptionNeverCrashes() throws {
        let scratch = try ScratchDirectory()
        let image = try Self.sampleImage(scratch)
        let bytes = try readFile(image)
        let header = try QCOW2Header.parse(bytes)
        // Concentrate on metadata: header, tables, the first L2 tables.
        let hotZone = min(bytes.count, Int(header.l1TableOffset) + 16 << 10)
        var random = DeterministicBytes(seed: 2026)
        let path = scratch.file("fuzz.qcow2")
        let rounds = heavyTestsEnabled ? 3000 : 300
        var refused = 0
        for round in 0..<rounds {
            var copy = bytes
            let flips = 1 + Int(random.next() % 8)
            for _ in 0..<flips {
                let zone = round % 4 == 0 ? copy.count : hotZone
                let offset = Int(random.next() % UInt64(zone))
                switch random.next() % 3 {
                case 0: copy[offset] ^= UInt8(1 << (random.next() % 8))
                case 1: copy[offset] = UInt8(truncatingIfNeeded: random.next())
                default: copy[offset] = 0xFF
                }
            }
            if round % 7 == 0 { copy.removeLast(Int(random.next() % UInt64(copy.count))) }
            try writeFile(path, copy)
            if exercise(path) != nil { refused += 1 }
        }
        #expect(refused > 0)
    }
}
