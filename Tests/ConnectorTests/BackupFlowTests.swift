import JSONRPC
import PluginProtocol
import XCTest
@testable import ScalewayConnector

/// The backup flow against the in-memory ``FakeCloud`` (the end-to-end
/// tests against the simulator and the built binary are in E2E*).
final class BackupFlowTests: XCTestCase {
    let fast = Poller(initialInterval: .milliseconds(1), maxInterval: .milliseconds(5))

    func importer(_ cloud: FakeCloud, _ notifier: RecordingNotifier, extra: [String: String] = [:]) throws -> ScalewayImporter {
        var c = ConfigTests.base
        c["location"] = "scaleway-instance://web-01"
        c.merge(extra) { $1 }
        return ScalewayImporter(config: try ConnectorConfig.parse(c, role: .importer), session: cloud, notifier: notifier,
                                poller: fast)
    }

    static func readAll(_ importer: ScalewayImporter, _ path: String, chunk: Int = 1 << 20) async throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let c = try await importer.read(path: path, offset: Int64(out.count), length: chunk)
            out += c.bytes
            if c.eof { return out }
            if c.bytes.isEmpty { throw PluginError(.io, "empty chunk before EOF") }
        }
    }

    func testBackupOfWeb01() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        let notifier = RecordingNotifier()
        let importer = try importer(cloud, notifier)
        let opened = try await importer.open()
        XCTAssertEqual(opened, OpenResult(origin: server.id, type: "scaleway-instance", root: "/", flags: ["stream"]))
        XCTAssertFalse(cloud.calls.contains { $0.hasPrefix("CREATE") }, "open must not create anything")

        let records = try await importer.list()
        let paths = records.map(\.pathname)
        let volumeIDs = (0...2).map { server.volumes[$0]!.id }
        XCTAssertEqual(Set(paths), Set(["/", "/instance.json", "/volumes"] + volumeIDs.enumerated().flatMap {
            ["/volumes/\($0.offset)-\($0.element).qcow2", "/volumes/\($0.offset)-\($0.element).json"]
        }))
        let image0 = records.first { $0.pathname.hasSuffix("0-\(volumeIDs[0]).qcow2") }!.fileInfo!
        XCTAssertEqual(image0.size, -1)
        XCTAssertEqual(image0.mode, 0o600)
        XCTAssertEqual(image0.modTime, "2026-12-04T10:00:00.123456000Z")

        let manifestBytes = try await Self.readAll(importer, "/instance.json")
        let manifest = try InstanceManifest.decode(manifestBytes)
        XCTAssertEqual(manifest.volumes.map(\.id), volumeIDs)
        XCTAssertEqual(manifest.volumes.map(\.volumeType), ["l_ssd", "sbs_5k", "sbs_15k"])
        XCTAssertEqual(manifest.volumes.map(\.perfIOPS), [nil, 5000, 15000])
        XCTAssertEqual(manifest.server.tags, ["web", "prod"])
        XCTAssertFalse(String(decoding: manifestBytes, as: UTF8.self).contains(ConfigTests.secret))

        // Concurrent reads of all images, small chunks, compared with the export.
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (i, id) in volumeIDs.enumerated() {
                group.addTask { (i, try await BackupFlowTests.readAll(importer, "/volumes/\(i)-\(id).qcow2", chunk: 300_000)) }
            }
            for try await (i, bytes) in group {
                XCTAssertEqual(bytes, FakeCloud.qcow2(cloud.content(ofVolume: volumeIDs[i])!), "image \(i)")
            }
        }
        let summary = try await importer.close()
        XCTAssertEqual(summary["status"], "ok")
        XCTAssertEqual(summary["volumes"], 3)
        XCTAssertTrue(cloud.snapshotIDs.isEmpty, "temporary snapshots left: \(cloud.snapshotIDs)")
        XCTAssertTrue(cloud.objectKeys.isEmpty, "staging objects left: \(cloud.objectKeys)")
        let ops = Set(notifier.progresses.map(\.operation))
        XCTAssertEqual(ops, ["snapshot", "export", "ready"])
    }

    func testReadErrorsAndResume() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        let importer = try importer(cloud, RecordingNotifier())
        _ = try await importer.open()
        _ = try await importer.list()
        let path = "/volumes/1-\(server.volumes[1]!.id).qcow2"
        // Every first GET of a block is cut after 1000 bytes: reads resume.
        cloud.state.withLock { $0.cutReadsAfter = 1000; $0.cutsLeft = 3 }
        let bytes = try await Self.readAll(importer, path)
        XCTAssertEqual(bytes, FakeCloud.qcow2(cloud.content(ofVolume: server.volumes[1]!.id)!))
        do {
            _ = try await importer.read(path: path, offset: Int64(bytes.count) + 1, length: 10)
            XCTFail("read past EOF accepted")
        } catch let error as PluginError {
            XCTAssertTrue(error.message.contains("past its end"), error.message)
        }
        do {
            _ = try await importer.read(path: "/volumes/nope.qcow2", offset: 0, length: 10)
            XCTFail("unknown path accepted")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .notFound)
        }
        _ = try await importer.close()
        XCTAssertTrue(cloud.snapshotIDs.isEmpty && cloud.objectKeys.isEmpty)
    }

    func testMissingBlockPermissionIsNamed() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        cloud.state.withLock { $0.denyBlock = true }
        do {
            _ = try await importer(cloud, RecordingNotifier()).open()
            XCTFail("open succeeded without block access")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .permission)
            XCTAssertEqual(error.message, "the key lacks BlockStorageFullAccess: cannot snapshot SBS volume \(server.volumes[1]!.id)")
        }
    }

    func testAmbiguousAndMissingNames() async throws {
        let cloud = FakeCloud()
        let a = cloud.seedWeb01(name: "web-01")
        let b = cloud.seedWeb01(name: "web-01")
        cloud.seedWeb01(name: "web-010")
        do {
            _ = try await importer(cloud, RecordingNotifier()).open()
            XCTFail("ambiguous name accepted")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .conflict)
            XCTAssertTrue(error.message.contains(a.id) && error.message.contains(b.id), error.message)
        }
        do {
            _ = try await importer(cloud, RecordingNotifier(), extra: ["location": "scaleway-instance://web"]).open()
            XCTFail("substring match accepted")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .notFound)
        }
    }

    func testStopConsistencyPowersBackOn() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        let importer = try importer(cloud, RecordingNotifier(), extra: ["consistency": "stop", "keep_staging": "true"])
        _ = try await importer.open()
        _ = try await importer.list()
        let calls = cloud.calls
        let off = calls.firstIndex(of: "ACTION poweroff \(server.id)")!
        let on = calls.firstIndex(of: "ACTION poweron \(server.id)")!
        let snaps = calls.indices.filter { calls[$0].hasPrefix("CREATE") && calls[$0].contains("snapshot") }
        XCTAssertEqual(snaps.count, 3)
        XCTAssertTrue(snaps.allSatisfy { $0 > off && $0 < on })
        let summary = try await importer.close()
        XCTAssertNotNil(summary["kept"])
        XCTAssertEqual(cloud.snapshotIDs.count, 3, "keep_staging keeps the snapshots")
    }

    func testFailedExportIsReportedAndCleaned() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        cloud.state.withLock { $0.failExportOfVolume = server.volumes[2]!.id }
        let importer = try importer(cloud, RecordingNotifier())
        _ = try await importer.open()
        _ = try await importer.list()
        do {
            _ = try await importer.read(path: "/volumes/2-\(server.volumes[2]!.id).qcow2", offset: 0, length: 100)
            XCTFail("read of a failed export succeeded")
        } catch let error as PluginError {
            XCTAssertTrue(error.message.contains("export of SBS volume \(server.volumes[2]!.id) failed"), error.message)
        }
        do {
            _ = try await importer.close()
            XCTFail("close hid the failure")
        } catch let error as PluginError {
            XCTAssertTrue(error.message.contains("backup incomplete"))
        }
        XCTAssertTrue(cloud.snapshotIDs.isEmpty && cloud.objectKeys.isEmpty)
    }

    func testLeftoversOfKilledRunsAreReclaimedWhenOld() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        let old = cloud.plantLeftover(serverID: server.id, runID: "20200101T000000Z-abcdef", family: .sbs)
        let young = cloud.plantLeftover(serverID: server.id, runID: Naming.makeRunID(), family: .lSSD)
        let other = cloud.plantLeftover(serverID: "someone-else", runID: "20200101T000000Z-123456", family: .lSSD)
        let importer = try importer(cloud, RecordingNotifier())
        _ = try await importer.open()
        XCTAssertEqual(Set(cloud.snapshotIDs), [old.snapshot, young.snapshot, other.snapshot], "open must not delete")
        _ = try await importer.list()
        let summary = try await importer.close()
        XCTAssertEqual(summary["reclaimed_leftovers"]?["snapshots"], [.string(old.snapshot)])
        XCTAssertEqual(summary["reclaimed_leftovers"]?["objects"], [.string(old.key)])
        XCTAssertEqual(Set(cloud.snapshotIDs), [young.snapshot, other.snapshot])
        XCTAssertEqual(Set(cloud.objectKeys), [young.key, other.key])
    }
}
