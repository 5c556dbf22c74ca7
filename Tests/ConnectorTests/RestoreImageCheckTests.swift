import PluginProtocol
import XCTest
@testable import ScalewayConnector

/// Restore follows each image with QCOW2StreamInspector as it streams in
/// (``StreamingExtentCheck``): an image whose tables are damaged, though its
/// header is valid and it is not truncated, is refused before its upload
/// completes, and nothing is created or left behind.
final class RestoreImageCheckTests: XCTestCase {
    let fast = Poller(initialInterval: .milliseconds(1), maxInterval: .milliseconds(5))

    func exporter(_ cloud: FakeCloud) throws -> ScalewayExporter {
        var c = ConfigTests.base
        c["location"] = "scaleway-instance://"
        return ScalewayExporter(config: try ConnectorConfig.parse(c, role: .exporter), session: cloud,
                                notifier: RecordingNotifier(), checkHeader: QCOW2HeaderCheck.check, poller: fast)
    }

    func be64(_ bytes: [UInt8], _ offset: Int) -> UInt64 { bytes[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) } }

    func store(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        for k in 0..<8 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * k)) }
    }

    func testImagesWithDamagedTablesAreRefused() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await RestoreFlowTests.backup(cloud)
        let image = files.first { $0.path.hasSuffix(".qcow2") && $0.path.contains("/1-") }!
        let l1Offset = Int(be64(image.bytes, 40))
        let refcountTable = be64(image.bytes, 48)
        let l2Offset = Int(be64(image.bytes, l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        XCTAssertNotEqual(l2Offset, 0)

        var overlapping = image.bytes
        store(&overlapping, l1Offset, (1 << 63) | refcountTable)
        var pastTheEnd = image.bytes
        store(&pastTheEnd, l2Offset, (1 << 63) | UInt64(image.bytes.count + (1 << 20)) & ~0xFFFF)
        var reserved = image.bytes
        store(&reserved, l2Offset, be64(image.bytes, l2Offset) | 0x2)  // reserved bit 1

        let before = Set(cloud.state.withLock { $0.volumes.keys })
        // Chunks as bytes, and as base64 decoded straight into the upload's parts (the check follows both).
        for base64 in [false, true] {
            for (what, bytes, reason) in [("L1 entry on the refcount table", overlapping, "corrupt"),
                                          ("data past the end", pastTheEnd, "truncated"),
                                          ("reserved L2 bits", reserved, "corrupt")] {
                let exporter = try exporter(cloud)
                _ = try await exporter.open()
                var outcomes: [FileOutcome] = []
                for file in files.filter({ !$0.path.hasSuffix(".qcow2") }) + [(image.path, image.info, bytes)] {
                    try await exporter.beginFile(path: file.path, info: file.info)
                    var offset = 0
                    while offset < file.bytes.count {
                        let end = min(file.bytes.count, offset + (1 << 20))
                        if base64 {
                            try await exporter.writeChunk(path: file.path, offset: Int64(offset), data: RestoreFlowTests.text(file.bytes[offset..<end]))
                        } else {
                            try await exporter.writeChunk(path: file.path, offset: Int64(offset), bytes: Array(file.bytes[offset..<end]))
                        }
                        offset = end
                    }
                    outcomes.append(try await exporter.finishFile(path: file.path))
                }
                let error = outcomes.last?.error
                XCTAssertNotNil(error, what)
                XCTAssertEqual(error?.kind, .invalidInput, what)
                XCTAssertTrue(error?.message.contains("(\(reason))") ?? false, "\(what): \(String(describing: error))")
                XCTAssertTrue(error?.message.contains(image.path) ?? false, "\(what): \(String(describing: error))")
                _ = try? await exporter.close()
                XCTAssertEqual(cloud.openUploads, 0, what)
                XCTAssertEqual(cloud.objectKeys, [], what)
                XCTAssertEqual(cloud.snapshotIDs, [], what)
                XCTAssertEqual(Set(cloud.state.withLock { $0.volumes.keys }), before, what)
            }
        }
    }
}
