import Foundation
import Testing
@testable import QCOW2

/// Metadata that shares a cluster with other metadata, or data mapped onto
/// metadata: `qemu-img check` reports such a cluster as referenced twice, and
/// writing through the image would overwrite its own tables. Both inspectors
/// must refuse it with `corrupt`, and the stream inspector whatever the
/// chunking (fuzz finding 3 of bench/fuzz/README.md: it used to give each
/// cluster one role and skip checks or call a complete image truncated).
@Suite("QCOW2 inspectors on overlapping metadata")
struct OverlappingMetadataTests {
    typealias Base = QCOW2HostileInputTests
    static let copied = Base.copied

    /// The hand-made image (header, L1 at 512, refcount table at 1024,
    /// refcount block at 1536, L2 at 2048, data at 2560) patched into every
    /// overlap class.
    static let cases: [(String, [UInt8])] = [
        ("an L1 entry pointing at the L1 table", Base.patched(Base.l1Offset, copied | UInt64(Base.l1Offset))),
        ("an L1 entry pointing at the refcount table", Base.patched(Base.l1Offset, copied | UInt64(Base.refcountTableOffset))),
        ("an L1 entry pointing at the refcount block", Base.patched(Base.l1Offset, copied | UInt64(Base.refcountBlockOffset))),
        ("a refcount block at the L2 table", Base.patched(Base.refcountTableOffset, UInt64(Base.l2Offset))),
        ("a refcount block at the L1 table", Base.patched(Base.refcountTableOffset, UInt64(Base.l1Offset))),
        ("a refcount block inside the refcount table", Base.patched(Base.refcountTableOffset, UInt64(Base.refcountTableOffset))),
        ("the L1 table at the refcount table", Base.patched(40, UInt64(Base.refcountTableOffset))),
        ("the refcount table at the L1 table", Base.patched(48, UInt64(Base.l1Offset))),
        ("a data cluster on the L2 table", Base.patched(Base.l2Offset, copied | UInt64(Base.l2Offset))),
        ("a data cluster on the L1 table", Base.patched(Base.l2Offset, copied | UInt64(Base.l1Offset))),
        ("a data cluster on the refcount table", Base.patched(Base.l2Offset, copied | UInt64(Base.refcountTableOffset))),
        ("a data cluster on the refcount block", Base.patched(Base.l2Offset, copied | UInt64(Base.refcountBlockOffset))),
        ("a compressed cluster on the L2 table", Base.patched(Base.l2Offset, Base.compressed | UInt64(Base.l2Offset + 100))),
        ("two L1 entries sharing an L2 table", {
            var image = Base.patched(36, 2, width: 4)  // l1_size 2
            Base.store(&image, at: Base.l1Offset + 8, copied | UInt64(Base.l2Offset))
            return image
        }()),
    ]

    /// The minimised inputs the qcow2-stream fuzz target found.
    static func fuzzRegressions() throws -> [(String, [UInt8])] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../bench/fuzz/regressions/qcow2-stream").standardized.path
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        return try names.map { ($0, try readFile(directory + "/" + $0)) }
    }

    func fileReason(_ bytes: [UInt8]) throws -> QCOW2Error? {
        let scratch = try ScratchDirectory()
        let path = scratch.file("overlap.qcow2")
        try writeFile(path, bytes)
        do {
            _ = try QCOW2Inspector.inspect(path: path)
            return nil
        } catch let error as QCOW2Error {
            return error
        }
    }

    func streamReason(_ bytes: [UInt8], piece: Int) -> QCOW2Error? {
        var inspector = QCOW2StreamInspector()
        do {
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + piece)
                try inspector.consume(Array(bytes[offset..<end]))
                offset = end
            }
            _ = try inspector.finish()
            return nil
        } catch let error as QCOW2Error {
            return error
        } catch {
            Issue.record("not a QCOW2Error: \(error)")
            return nil
        }
    }

    func expectRefused(_ name: String, _ bytes: [UInt8]) throws {
        let file = try fileReason(bytes)
        #expect(file?.reason == .corrupt, "file inspector, \(name): \(file.map(\.description) ?? "accepted")")
        var verdicts: [String] = []
        for piece in [bytes.count, 1, 7, 512, 100] {
            let stream = streamReason(bytes, piece: max(1, piece))
            #expect(stream?.reason == .corrupt, "stream inspector in pieces of \(piece), \(name): \(stream.map(\.description) ?? "accepted")")
            verdicts.append(stream?.description ?? "accepted")
        }
        #expect(Set(verdicts).count == 1, "\(name): the verdict depends on the chunking: \(verdicts)")
    }

    @Test func theUnpatchedImageIsAcceptedByBoth() throws {
        #expect(try fileReason(Base.image()) == nil)
        #expect(streamReason(Base.image(), piece: 7) == nil)
    }

    @Test(arguments: cases.indices) func everyOverlapIsRefused(_ index: Int) throws {
        let (name, bytes) = Self.cases[index]
        try expectRefused(name, bytes)
    }

    @Test func theFuzzRegressionsAreRefusedAsCorrupt() throws {
        let inputs = try Self.fuzzRegressions()
        #expect(inputs.count >= 2)
        for (name, bytes) in inputs { try expectRefused(name, bytes) }
    }

    @Test func theMessageNamesBothStructures() throws {
        let error = try fileReason(Self.cases[1].1)
        #expect(error?.message.contains("the L2 table of L1 entry 0") == true, "\(String(describing: error))")
        #expect(error?.message.contains("the refcount table") == true, "\(String(describing: error))")
    }

    /// The structure check fed piecewise (as a backup does with ranged GETs)
    /// agrees with the file inspector on a qemu-img image.
    @Test func theStructureCheckAgreesWithTheFileInspector() throws {
        let scratch = try ScratchDirectory()
        let image = try HostileInputTests.sampleImage(scratch, compressed: false)
        let bytes = try readFile(image)
        let whole = try QCOW2Inspector.inspect(path: image)
        let header = try QCOW2Header.parse(Array(bytes.prefix(64 << 10)))
        var check = try QCOW2StructureCheck(header: header, fileSize: UInt64(bytes.count))
        let tables = try Array(bytes[Int(check.l1TableRange.lowerBound)..<Int(check.l1TableRange.upperBound)])
            .withUnsafeBytes { try check.addL1Table($0) }
        for offset in stride(from: check.refcountTableRange.lowerBound, to: check.refcountTableRange.upperBound, by: 8) {
            try Array(bytes[Int(offset)..<Int(offset + 8)]).withUnsafeBytes { try check.addRefcountTable($0, at: offset) }
        }
        for table in tables.reversed() {
            try Array(bytes[Int(table.offset)..<Int(table.offset + header.clusterSize)]).withUnsafeBytes {
                try check.checkL2Table($0, of: table)
            }
        }
        #expect(try check.finish() == whole)
    }
}
