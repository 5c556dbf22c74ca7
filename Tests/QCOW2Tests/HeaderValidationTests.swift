import Foundation
import Testing
@testable import QCOW2

@Suite("QCOW2Header validation on the first bytes of an image")
struct HeaderValidationTests {
    func prefix(_ path: String, _ count: Int = 64 << 10) throws -> [UInt8] {
        Array(try readFile(path).prefix(count))
    }

    func reason(_ body: () throws -> Void) -> QCOW2Error.Reason? {
        do {
            try body()
            return nil
        } catch let error as QCOW2Error {
            #expect(!error.message.isEmpty)
            return error.reason
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func acceptsPlainImagesOfBothVersions() throws {
        let scratch = try ScratchDirectory()
        for compat in ["1.1", "0.10"] {
            let image = scratch.file("plain-\(compat).qcow2")
            try qemuImg("create", "-f", "qcow2", "-o", "compat=\(compat)", image, "1G")
            let header = try QCOW2Header.validate(prefix: try prefix(image), virtualSizeRange: 1_000_000_000...1_000_000_000_000)
            #expect(header.virtualSize == 1 << 30)
            #expect(header.version == (compat == "1.1" ? 3 : 2))
            #expect(header.clusterSize == 65536)
            // The whole image is shorter than 64 KiB-prefix requests: fine.
            _ = try QCOW2Inspector.inspect(path: image)
        }
    }

    @Test func recognisesLUKSEncryption() throws {
        let scratch = try ScratchDirectory()
        let image = scratch.file("luks.qcow2")
        try qemuImg("create", "-f", "qcow2", "--object", "secret,id=sec0,data=plakar",
                    "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", image, "64M")
        #expect(reason { _ = try QCOW2Header.validate(prefix: try prefix(image)) } == .encrypted)
        #expect(reason { _ = try QCOW2Reader(path: image) } == .encrypted)
        #expect(reason { _ = try QCOW2Inspector.inspect(path: image) } == .encrypted)
    }

    @Test func recognisesLegacyAESEncryption() throws {
        let scratch = try ScratchDirectory()
        let image = scratch.file("aes.qcow2")
        try qemuImg("create", "-f", "qcow2", "--object", "secret,id=sec0,data=plakar",
                    "-o", "encryption=on,encrypt.key-secret=sec0", image, "64M")
        let header = try QCOW2Header.parse(try prefix(image))
        #expect(header.cryptMethod == 1)
        #expect(reason { _ = try QCOW2Header.validate(prefix: try prefix(image)) } == .encrypted)
    }

    @Test func recognisesBackingFile() throws {
        let scratch = try ScratchDirectory()
        let base = scratch.file("base.qcow2")
        let overlay = scratch.file("overlay.qcow2")
        try qemuImg("create", "-f", "qcow2", base, "64M")
        try qemuImg("create", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay)
        let header = try QCOW2Header.parse(try prefix(overlay))
        #expect(header.backingFileName == base)
        #expect(header.extensions.contains { $0.kind == .backingFileFormat && $0.data == Array("qcow2".utf8) })
        do {
            _ = try QCOW2Header.validate(prefix: try prefix(overlay))
            Issue.record("a backing file must be refused")
        } catch let error as QCOW2Error {
            #expect(error.reason == .backingFile)
            #expect(error.message.contains(base))
        }
        #expect(reason { _ = try QCOW2Reader(path: overlay) } == .backingFile)
    }

    @Test func recognisesZstdCompression() throws {
        let scratch = try ScratchDirectory()
        let image = scratch.file("zstd.qcow2")
        let raw = scratch.file("zstd.raw")
        try makeSparseFile(raw, size: 1 << 20, pieces: [(0, Array(repeating: 7, count: 200_000))])
        try qemuImg("convert", "-f", "raw", "-O", "qcow2", "-c", "-o", "compression_type=zstd", raw, image)
        #expect(reason { _ = try QCOW2Header.validate(prefix: try prefix(image)) } == .zstdCompression)
        #expect(reason { _ = try QCOW2Reader(path: image) } == .zstdCompression)
    }

    /// A valid version 3 header (112 bytes) to forge variants from.
    func validHeader() throws -> [UInt8] {
        let writer = QCOW2Writer(source: MemorySource(bytes: [1, 2, 3], virtualSize: 1 << 30))
        var image: [UInt8] = []
        try writer.write(try writer.plan()) { image.append(contentsOf: $0) }
        return Array(image.prefix(65536))
    }

    func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt64, width: Int) -> [UInt8] {
        var copy = bytes
        for index in 0..<width {
            copy[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - index)))
        }
        return copy
    }

    @Test func forgedHeaders() throws {
        let valid = try validHeader()
        _ = try QCOW2Header.validate(prefix: valid)
        #expect(reason { _ = try QCOW2Header.validate(prefix: Array("not an image at all".utf8)) } == .notQCOW2)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 4, 4, width: 4)) } == .unsupportedVersion)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 4, 1, width: 4)) } == .unsupportedVersion)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 1, width: 8)) } == .dirty)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 2, width: 8)) } == .corrupt)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 4, width: 8)) } == .unsupportedFeature)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 16, width: 8)) } == .unsupportedFeature)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 1 << 40, width: 8)) } == .unsupportedFeature)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 32, 2, width: 4)) } == .encrypted)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 8, 4096, width: 8)) } == .backingFile)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 20, 8, width: 4)) } == .unsupportedFeature)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 20, 22, width: 4)) } == .unsupportedFeature)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 96, 7, width: 4)) } == .corrupt)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 100, 100, width: 4)) } == .corrupt)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 100, 1 << 20, width: 4)) } == .corrupt)
        // Compression type field without its feature bit, and the reverse.
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 104, 1, width: 1)) } == .corrupt)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(valid, at: 72, 8, width: 8)) } == .corrupt)
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(self.patched(valid, at: 72, 8, width: 8), at: 104, 9, width: 1)) } == .unsupportedFeature)
        // Virtual size policy.
        #expect(reason { _ = try QCOW2Header.validate(prefix: valid, virtualSizeRange: 2...100) } == .virtualSize)
        // An extension claiming more bytes than the cluster holds.
        #expect(reason { _ = try QCOW2Header.validate(prefix: self.patched(self.patched(valid, at: 112, 0x1234, width: 4), at: 116, 0xFFFF_FFF0, width: 4)) } == .corrupt)
    }

    @Test func truncationAtEveryHeaderFieldBoundary() throws {
        let valid = try validHeader()
        let boundaries = [0, 1, 3, 4, 7, 8, 16, 20, 24, 32, 36, 40, 48, 56, 60, 64, 72, 80, 88, 96, 100, 104, 105, 111, 112, 115, 119]
        for length in boundaries {
            let cut = Array(valid.prefix(length))
            #expect(reason { _ = try QCOW2Header.validate(prefix: cut) } == .truncated, "prefix of \(length) bytes")
        }
        // The header and its end marker are enough.
        _ = try QCOW2Header.validate(prefix: Array(valid.prefix(120)))
    }
}
