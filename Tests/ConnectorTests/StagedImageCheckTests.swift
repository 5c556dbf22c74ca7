import PluginProtocol
import QCOW2
import XCTest
@testable import ScalewayConnector

/// The backup's check of a staged image (``StagedImageCheck``) against the
/// in-memory ``FakeCloud`` bucket: intact images pass reading only their
/// metadata; damaged ones fail with an error naming the volume and what is
/// wrong. The end-to-end case (the simulator's `corrupt` export fault) is
/// ClockAndCorruptionTests in ReliabilityTests.
final class StagedImageCheckTests: XCTestCase {
    static let key = "plakar-scaleway/srv/run/0-vol.qcow2"
    static let virtualSize: UInt64 = 4 << 30

    /// A 4 GiB disk with 1 MiB of data every 512 MiB: eight L2 tables.
    struct SpreadSource: QCOW2Source {
        var virtualSize: UInt64 { StagedImageCheckTests.virtualSize }
        func forEachDataExtent(_ body: (Range<UInt64>) throws -> Void) throws {
            for start in stride(from: UInt64(0), to: virtualSize, by: 512 << 20) { try body(start..<(start + (1 << 20))) }
        }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: (offset + UInt64(index)) * 7 + 1) }
        }
    }

    static let image: [UInt8] = {
        let writer = QCOW2Writer(source: SpreadSource())
        var out: [UInt8] = []
        try! writer.write(try! writer.plan()) { out.append(contentsOf: $0) }
        return out
    }()

    func volume(size: UInt64 = virtualSize) -> PlannedVolume {
        PlannedVolume(index: 0, id: "11111111-0000-4000-8000-000000000001", name: "root", family: .sbs, volumeType: "sbs_5k",
                      size: Int64(size), perfIOPS: 5000, boot: true, tags: [])
    }

    func check(_ bytes: [UInt8], volume: PlannedVolume? = nil, cloud: FakeCloud = FakeCloud()) async throws -> QCOW2Inspection {
        cloud.state.withLock { $0.objects[Self.key] = bytes }
        return try await StagedImageCheck(store: cloud, bucket: cloud.bucket, key: Self.key, size: Int64(bytes.count),
                                          volume: volume ?? self.volume()).verify()
    }

    /// The error `bytes` are refused with.
    func refusal(_ bytes: [UInt8], volume: PlannedVolume? = nil) async throws -> PluginError {
        do {
            let inspection = try await check(bytes, volume: volume)
            XCTFail("a damaged image passed the check: \(inspection)")
            throw PluginError(.internal, "accepted")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .remote)
            XCTAssertTrue(error.message.contains(volume?.id ?? self.volume().id), error.message)
            XCTAssertTrue(error.message.contains(Self.key), error.message)
            XCTAssertTrue(error.message.contains("is corrupt"), error.message)
            XCTAssertTrue(error.message.contains("not passed on to Plakar"), error.message)
            XCTAssertNotNil(error.hint)
            return error
        }
    }

    func flipped(_ offset: Int, count: Int = 16) -> [UInt8] {
        var bytes = Self.image
        for index in offset..<min(bytes.count, offset + count) { bytes[index] ^= 0xA5 }
        return bytes
    }

    func be64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) }
    }

    func testAnIntactImagePassesReadingOnlyItsMetadata() async throws {
        let cloud = FakeCloud()
        let inspection = try await check(Self.image, cloud: cloud)
        XCTAssertEqual(inspection.l2TableCount, 8)
        XCTAssertEqual(inspection.dataClusterCount, 8 * 16)
        XCTAssertEqual(inspection.virtualSize, Self.virtualSize)
        let fetched = cloud.calls.filter { $0.hasPrefix("GET object") }.map { call -> Int in
            Int(call.split(separator: "+").last!)!
        }
        let clusterSize = Int(inspection.header.clusterSize)
        // Header, L1, refcount table, eight L2 tables: never the data.
        XCTAssertLessThanOrEqual(fetched.reduce(0, +), (64 << 10) + 11 * clusterSize, "\(fetched)")
        XCTAssertLessThan(fetched.reduce(0, +), Self.image.count / 8)
        // Adjacent L2 tables are read together.
        XCTAssertLessThan(fetched.count, 11, "\(cloud.calls)")
    }

    func testCutGETsResume() async throws {
        let cloud = FakeCloud()
        cloud.state.withLock { $0.cutReadsAfter = 1000; $0.cutsLeft = 3 }
        _ = try await check(Self.image, cloud: cloud)
        XCTAssertEqual(cloud.state.withLock { $0.cutsLeft }, 0)
    }

    /// The simulator's `corrupt` export fault at offset 0.
    func testAFlippedHeaderIsRefused() async throws {
        let error = try await refusal(flipped(0))
        XCTAssertTrue(error.message.contains("not_qcow2"), error.message)
    }

    func testAnL2EntryPointingPastTheEndIsRefused() async throws {
        let header = try QCOW2Header.parse(Self.image)
        let l2 = Int(be64(Self.image, Int(header.l1TableOffset)) & 0x00FF_FFFF_FFFF_FE00)
        var bytes = Self.image
        let past = (UInt64(bytes.count) + header.clusterSize) & ~(header.clusterSize - 1)
        for k in 0..<8 { bytes[l2 + k] = UInt8(truncatingIfNeeded: ((1 << 63) | past) >> UInt64(56 - 8 * k)) }
        let error = try await refusal(bytes)
        XCTAssertTrue(error.message.contains("truncated"), error.message)
    }

    func testAnL1EntryPointingAtTheRefcountTableIsRefused() async throws {
        let header = try QCOW2Header.parse(Self.image)
        var bytes = Self.image
        let target = (1 << 63) | header.refcountTableOffset
        for k in 0..<8 { bytes[Int(header.l1TableOffset) + k] = UInt8(truncatingIfNeeded: target >> UInt64(56 - 8 * k)) }
        let error = try await refusal(bytes)
        XCTAssertTrue(error.message.contains("overlaps"), error.message)
    }

    /// A flipped `refcount_table_clusters` must not make the check read the
    /// whole object: QEMU's 8 MiB refcount table limit bounds it.
    func testADamagedRefcountTableSizeIsRefusedWithoutReadingTheImage() async throws {
        let header = try QCOW2Header.parse(Self.image)
        let clusters = (UInt64(Self.image.count) - header.refcountTableOffset) / header.clusterSize
        XCTAssertGreaterThan(clusters * header.clusterSize, 8 << 20, "the sample image is too small for this case")
        var bytes = Self.image
        for k in 0..<4 { bytes[56 + k] = UInt8(truncatingIfNeeded: clusters >> UInt64(24 - 8 * k)) }
        let cloud = FakeCloud()
        cloud.state.withLock { $0.objects[Self.key] = bytes }
        do {
            try await StagedImageCheck(store: cloud, bucket: cloud.bucket, key: Self.key, size: Int64(bytes.count), volume: volume()).verify()
            XCTFail("a refcount table of \(clusters) clusters was accepted")
        } catch let error as PluginError {
            XCTAssertTrue(error.message.contains("8 MiB limit"), error.message)
        }
        let fetched = cloud.calls.filter { $0.hasPrefix("GET object") }.map { Int($0.split(separator: "+").last!)! }
        XCTAssertLessThanOrEqual(fetched.reduce(0, +), 64 << 10, "\(fetched)")
    }

    func testAShortObjectIsRefused() async throws {
        let error = try await refusal(Array(Self.image.dropLast(4096)))
        XCTAssertTrue(error.message.contains("truncated"), error.message)
    }

    func testAVirtualSizeOtherThanTheVolumesIsRefused() async throws {
        let error = try await refusal(Self.image, volume: volume(size: Self.virtualSize + (1 << 30)))
        XCTAssertTrue(error.message.contains("virtual size"), error.message)
    }
}
