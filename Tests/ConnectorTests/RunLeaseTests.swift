import Foundation
import JSONRPC
import PluginProtocol
import XCTest
@testable import ScalewayConnector

/// Run leases and the reclaim they drive, against ``FakeCloud``: a dead
/// run's leftovers go, a live run's stay, whatever their age.
final class RunLeaseTests: XCTestCase {
    let fast = Poller(initialInterval: .milliseconds(1), maxInterval: .milliseconds(5))
    let zone = Zone("fr-par-1")!
    let prefix = "plakar-scaleway/"

    /// A holder on another machine: only staleness can prove it dead.
    static let elsewhere = LeaseHolder(host: "other-host", pid: 4242, bootID: "00000000-0000-0000-0000-000000000000",
                                       pidNamespace: "pid:[1]", processStart: "1")

    /// A holder on this machine whose process has exited and been reaped.
    static func exitedHere() throws -> LeaseHolder {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        let start = LeaseHolder.processStart(of: process.processIdentifier)
        process.waitUntilExit()
        var holder = LeaseHolder.current
        holder.pid = process.processIdentifier
        holder.processStart = start ?? "0"
        return holder
    }

    /// Plants run `runID`'s lease and what it had made: a tagged snapshot,
    /// a staged object and an incomplete upload under its staging prefix.
    @discardableResult
    func plantRun(_ cloud: FakeCloud, runID: String, kind: RunLeaseRecord.Kind, serverID: String?, holder: LeaseHolder,
                  renewedAgo: TimeInterval, phase: RunLeaseRecord.Phase = .running) async throws
        -> (lease: String, snapshot: String, object: String, upload: String)
    {
        let now = Date()
        let record = RunLeaseRecord(runID: runID, kind: kind, serverID: serverID, zone: "fr-par-1", project: FakeCloud.project,
                                    holder: holder, startedAt: now.addingTimeInterval(-renewedAgo - 60),
                                    renewedAt: now.addingTimeInterval(-renewedAgo), phase: phase)
        let leaseKey = Naming.leaseKey(prefix: prefix, runID: runID)
        try await cloud.putObject(bucket: cloud.bucket, key: leaseKey, bytes: try record.encoded(), contentType: "application/json")
        let staging = kind == .backup ? Naming.backupStagingPrefix(prefix: prefix, serverID: serverID!, runID: runID)
                                      : Naming.restoreStagingPrefix(prefix: prefix, runID: runID)
        let object = staging + "0-x.qcow2"
        let upload = try await cloud.createMultipartUpload(bucket: cloud.bucket, key: staging + "1-y.qcow2", contentType: "x")
        let snapshotID = cloud.newID()
        let snapshot = CloudSnapshot(id: snapshotID, name: "plakar-scaleway-\(runID)-0", size: 1, status: "available",
                                     createdAt: "2026-12-04T00:00:00Z", tags: Naming.snapshotTags(runID: runID, serverID: serverID))
        cloud.state.withLock {
            $0.objects[object] = [1, 2, 3]
            $0.snapshots[snapshotID] = FakeCloud.Snap(snapshot: snapshot, family: .sbs, content: [], pending: [])
        }
        return (leaseKey, snapshotID, object, upload)
    }

    func reclaimer(_ cloud: FakeCloud, serverID: String? = nil, staleAfter: Duration = .seconds(300)) -> LeftoverReclaimer {
        var r = LeftoverReclaimer(compute: cloud, store: cloud, zone: zone, bucket: cloud.bucket, prefix: prefix,
                                  serverID: serverID, project: FakeCloud.project, currentRunID: Naming.makeRunID())
        r.policy = LeasePolicy(staleAfter: staleAfter)
        r.poller = fast
        return r
    }

    static func strings(_ value: JSONValue?) -> Set<String> {
        Set(value?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    func testStaleAndExitedRunsAreReclaimedLiveOnesAreNot() async throws {
        let cloud = FakeCloud()
        let server = cloud.seedWeb01()
        let stale = try await plantRun(cloud, runID: "20261204T100000Z-aaaaaa", kind: .backup, serverID: server.id,
                                       holder: Self.elsewhere, renewedAgo: 301)
        let exited = try await plantRun(cloud, runID: "20261204T100001Z-bbbbbb", kind: .restore, serverID: nil,
                                        holder: try Self.exitedHere(), renewedAgo: 0)
        // Alive: renewed just now elsewhere; and held by this very process.
        let liveElsewhere = try await plantRun(cloud, runID: "20261204T100002Z-cccccc", kind: .backup, serverID: server.id,
                                               holder: Self.elsewhere, renewedAgo: 10)
        let liveHere = try await plantRun(cloud, runID: "20200101T000000Z-dddddd", kind: .restore, serverID: nil,
                                          holder: .current, renewedAgo: 1)
        let notifier = RecordingNotifier()
        var reclaimer = reclaimer(cloud, serverID: server.id)
        reclaimer.notifier = notifier
        let report = await reclaimer.reclaim()

        for run in [stale, exited] {
            XCTAssertNil(cloud.object(run.lease), "dead lease \(run.lease) kept")
            XCTAssertNil(cloud.object(run.object), "\(run.object) kept")
            XCTAssertFalse(cloud.snapshotIDs.contains(run.snapshot))
            XCTAssertTrue(Self.strings(report["objects"]).isSuperset(of: [run.lease, run.object]))
            XCTAssertTrue(Self.strings(report["snapshots"]).contains(run.snapshot))
            XCTAssertTrue(Self.strings(report["multipart_uploads"]).contains(run.upload))
        }
        // The live runs' leases and leftovers are untouched, though one is years old by its id.
        for run in [liveElsewhere, liveHere] {
            XCTAssertNotNil(cloud.object(run.lease))
            XCTAssertNotNil(cloud.object(run.object))
            XCTAssertTrue(cloud.snapshotIDs.contains(run.snapshot))
        }
        XCTAssertEqual(cloud.openUploads, 2, "only the live runs' uploads remain")
        let whys = report["runs"]?.arrayValue?.compactMap { $0["why"]?.stringValue } ?? []
        XCTAssertEqual(whys.count, 2)
        XCTAssertTrue(whys.contains { $0.contains("not renewed for") }, "\(whys)")
        XCTAssertTrue(whys.contains { $0.contains("is gone") }, "\(whys)")
        XCTAssertTrue(notifier.logs.contains { $0.hasPrefix("info: reclaimed leftovers") && $0.contains(stale.snapshot) },
                      "\(notifier.logs)")
        XCTAssertTrue(notifier.progresses.contains { $0.operation == "reclaim" })
    }

    func testTheStalenessThresholdIsTheConfiguredOne() async throws {
        let cloud = FakeCloud()
        let run = try await plantRun(cloud, runID: "20261204T100000Z-aaaaaa", kind: .restore, serverID: nil,
                                     holder: Self.elsewhere, renewedAgo: 45)
        _ = await reclaimer(cloud, staleAfter: .seconds(60)).reclaim()
        XCTAssertNotNil(cloud.object(run.lease), "45 s without renewal is alive under reclaim_after=60")
        _ = await reclaimer(cloud, staleAfter: .seconds(30)).reclaim()
        XCTAssertNil(cloud.object(run.lease), "45 s without renewal is dead under reclaim_after=30")
        XCTAssertNil(cloud.object(run.object))
    }

    func testADeadRestoresVolumesAndServerGoButNotWhatItDidNotCreate() async throws {
        let cloud = FakeCloud()
        let web = cloud.seedWeb01(state: "stopped")
        let runID = "20261204T100000Z-eeeeee"
        let tag = Naming.restoreTag(runID: runID)
        let run = try await plantRun(cloud, runID: runID, kind: .restore, serverID: nil, holder: Self.elsewhere, renewedAgo: 900)
        // Made by the killed restore: a loose volume, and a stopped instance built only from its volumes.
        let loose = CloudVolume(id: cloud.newID(), name: "data", volumeType: "sbs_5k", size: 1, status: "available", tags: ["a", tag])
        let root = CloudVolume(id: cloud.newID(), name: "root", volumeType: "l_ssd", size: 1, status: "available", tags: [tag])
        var made = CloudServer(id: cloud.newID(), name: "web-01-restored", project: FakeCloud.project, commercialType: "DEV1-S",
                               state: "stopped", zone: "fr-par-1", tags: [])
        made.volumes = [0: ServerVolumeEntry(id: root.id, volumeType: "l_ssd", name: "root", tags: [tag])]
        // Tagged too, but attached to web-01, which existed before: must stay.
        let foreign = CloudVolume(id: cloud.newID(), name: "extra", volumeType: "sbs_5k", size: 1, status: "in_use", tags: [tag],
                                  serverID: web.id)
        var madeRoot = root
        madeRoot.serverID = made.id
        cloud.state.withLock { s in
            s.volumes[loose.id] = (loose, .sbs, [])
            s.volumes[root.id] = (madeRoot, .lSSD, [])
            s.volumes[foreign.id] = (foreign, .sbs, [])
            s.servers[made.id] = made
            s.servers[web.id]?.volumes[3] = ServerVolumeEntry(id: foreign.id, volumeType: "sbs_volume")
        }
        let report = await reclaimer(cloud).reclaim()
        let volumes = cloud.state.withLock { Set($0.volumes.keys) }
        let servers = cloud.state.withLock { Set($0.servers.keys) }
        XCTAssertFalse(volumes.contains(loose.id))
        XCTAssertFalse(volumes.contains(root.id))
        XCTAssertFalse(servers.contains(made.id))
        XCTAssertEqual(Self.strings(report["servers"]), [made.id])
        XCTAssertEqual(Self.strings(report["volumes"]), [loose.id, root.id])
        XCTAssertTrue(volumes.contains(foreign.id), "a volume attached to an instance the run did not create was deleted")
        XCTAssertTrue(servers.contains(web.id))
        for volume in web.volumes.values { XCTAssertTrue(volumes.contains(volume.id)) }
        XCTAssertTrue(Self.strings(report["problems"]).contains { $0.contains(foreign.id) })
        XCTAssertNotNil(cloud.object(run.lease), "the lease stays while something of its run is left")
    }

    func testAnAssembledRestoreKeepsItsVolumes() async throws {
        let cloud = FakeCloud()
        let runID = "20261204T100000Z-ffffff"
        let run = try await plantRun(cloud, runID: runID, kind: .restore, serverID: nil, holder: Self.elsewhere,
                                     renewedAgo: 900, phase: .assembled)
        let restored = CloudVolume(id: cloud.newID(), name: "data", volumeType: "sbs_5k", size: 1, status: "available",
                                   tags: [Naming.restoreTag(runID: runID)])
        cloud.state.withLock { $0.volumes[restored.id] = (restored, .sbs, []) }
        let report = await reclaimer(cloud).reclaim()
        XCTAssertNotNil(cloud.state.withLock { $0.volumes[restored.id] }, "the restored volume of a finished restore was deleted")
        XCTAssertNil(cloud.object(run.object))
        XCTAssertNil(cloud.object(run.lease))
        XCTAssertTrue(Self.strings(report["volumes"]).isEmpty)
    }

    func testABackupHoldsItsLeaseFromListUntilClose() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        var c = ConfigTests.base
        c["reclaim_after"] = "5m"
        let importer = ScalewayImporter(config: try ConnectorConfig.parse(c, role: .importer), session: cloud,
                                        notifier: RecordingNotifier(), poller: fast)
        _ = try await importer.open()
        XCTAssertTrue(cloud.objectKeys.isEmpty, "open wrote something")
        _ = try await importer.list()
        let leases = cloud.objectKeys.filter { $0.hasPrefix("plakar-scaleway/runs/") }
        XCTAssertEqual(leases.count, 1)
        let record = try RunLeaseRecord.decode(try XCTUnwrap(cloud.object(leases[0])))
        XCTAssertEqual(record.kind, .backup)
        XCTAssertEqual(record.holder, .current)
        XCTAssertEqual(Naming.leaseKey(prefix: prefix, runID: record.runID), leases[0])
        XCTAssertFalse(String(decoding: cloud.object(leases[0])!, as: UTF8.self).contains(ConfigTests.secret))
        _ = try await importer.close()
        XCTAssertTrue(cloud.objectKeys.isEmpty, "left after close: \(cloud.objectKeys)")
    }

    func testARestoreHoldsALeaseTagsItsVolumesAndReleasesItAtClose() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await RestoreFlowTests.backup(cloud)
        let exporter = try restoreExporter(cloud)
        _ = try await exporter.open()
        XCTAssertFalse(cloud.objectKeys.contains { $0.hasPrefix("plakar-scaleway/runs/") }, "open took a lease")
        // Every file but the last: the restore is under way and holds its lease.
        try await write(files.dropLast(), to: exporter)
        let leases = cloud.objectKeys.filter { $0.hasPrefix("plakar-scaleway/runs/") }
        XCTAssertEqual(leases.count, 1)
        let record = try RunLeaseRecord.decode(try XCTUnwrap(cloud.object(leases[0])))
        XCTAssertEqual(record.kind, .restore)
        XCTAssertEqual(record.phase, .running)
        try await write(files.suffix(1), to: exporter)
        let summary = try await exporter.close()
        XCTAssertEqual(summary["status"], "restored")
        XCTAssertNotNil(summary["reclaimed_leftovers"])
        let serverID = try XCTUnwrap(summary["server"]?.stringValue)
        let server = try await cloud.getServer(zone: zone, id: serverID)
        XCTAssertEqual(server.tags, ["web", "prod"], "the restored instance carries the original tags only")
        // Tagged at creation; the tag is dropped only once the lease says `assembled`
        // (before, a kill would leave volumes that no reclaim could find).
        let tag = Naming.restoreTag(runID: record.runID)
        let tagging = cloud.calls.filter { $0.hasPrefix("TAG volume") }
        for entry in server.volumes.values {
            let tags = cloud.state.withLock { $0.volumes[entry.id]?.volume.tags } ?? []
            XCTAssertFalse(tags.contains(tag), "volume \(entry.id) keeps the restore tag: \(tags)")
            let change = tagging.filter { $0.hasPrefix("TAG volume \(entry.id) ") }
            XCTAssertEqual(change.count, 1, "\(tagging)")
            XCTAssertTrue(change.first?.contains(" leases=assembled ") ?? false, "tag dropped before the lease said assembled: \(change)")
            XCTAssertTrue(change.first?.contains(tag) ?? false, "volume \(entry.id) was not tagged at creation: \(change)")
        }
        XCTAssertNil(summary["restore_tag_kept"])
        XCTAssertTrue(cloud.objectKeys.isEmpty, "left after close: \(cloud.objectKeys)")
    }

    /// Dropping the tag is bookkeeping: when it fails the restore still
    /// succeeds, and says which volumes keep the (now inert) tag.
    func testARestoreWhoseTagCannotBeDroppedStillSucceeds() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await RestoreFlowTests.backup(cloud)
        let exporter = try restoreExporter(cloud)
        _ = try await exporter.open()
        try await write(files[...], to: exporter)
        cloud.state.withLock { $0.failTagging = true }
        let summary = try await exporter.close()
        XCTAssertEqual(summary["status"], "restored")
        let server = try await cloud.getServer(zone: zone, id: try XCTUnwrap(summary["server"]?.stringValue))
        let kept = Set(summary["restore_tag_kept"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        XCTAssertEqual(kept, Set(server.volumes.values.map(\.id)))
        XCTAssertTrue(cloud.objectKeys.isEmpty, "left after close: \(cloud.objectKeys)")
    }

    /// An exporter restoring a new instance from `cloud`.
    func restoreExporter(_ cloud: FakeCloud) throws -> ScalewayExporter {
        var c = ConfigTests.base
        c["location"] = "scaleway-instance://"
        return ScalewayExporter(config: try ConnectorConfig.parse(c, role: .exporter), session: cloud,
                                notifier: RecordingNotifier(), checkHeader: QCOW2HeaderCheck.check, poller: fast)
    }

    /// Writes each file in one chunk, as the host would; every file must be accepted.
    func write(_ files: ArraySlice<(path: String, info: FileInfo, bytes: [UInt8])>, to exporter: ScalewayExporter) async throws {
        for file in files {
            try await exporter.beginFile(path: file.path, info: file.info)
            if !file.bytes.isEmpty { try await exporter.writeChunk(path: file.path, offset: 0, bytes: file.bytes) }
            let outcome = try await exporter.finishFile(path: file.path)
            XCTAssertNil(outcome.error, file.path)
        }
    }

    func testAConcurrentLiveBackupIsLeftAlone() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        func importer() throws -> ScalewayImporter {
            var c = ConfigTests.base
            c["reclaim_after"] = "30s"
            return ScalewayImporter(config: try ConnectorConfig.parse(c, role: .importer), session: cloud,
                                    notifier: RecordingNotifier(), poller: fast)
        }
        let first = try importer()
        _ = try await first.open()
        let records = try await first.list()
        let firstSnapshots = Set(cloud.snapshotIDs)
        let firstObjects = Set(cloud.objectKeys)
        XCTAssertFalse(firstSnapshots.isEmpty)
        // A second backup of the same instance runs whole while the first is still open.
        let second = try importer()
        _ = try await second.open()
        _ = try await second.list()
        let summary = try await second.close()
        XCTAssertTrue(Self.strings(summary["reclaimed_leftovers"]?["snapshots"]).isEmpty)
        XCTAssertTrue(Self.strings(summary["reclaimed_leftovers"]?["objects"]).isEmpty)
        XCTAssertTrue(firstSnapshots.isSubset(of: Set(cloud.snapshotIDs)), "the live run's snapshots were deleted")
        XCTAssertTrue(firstObjects.isSubset(of: Set(cloud.objectKeys)), "the live run's objects were deleted")
        // The first run still reads its images and cleans up after itself.
        for record in records where record.pathname.hasSuffix(".qcow2") {
            let bytes = try await BackupFlowTests.readAll(first, record.pathname)
            XCTAssertFalse(bytes.isEmpty)
        }
        _ = try await first.close()
        XCTAssertTrue(cloud.objectKeys.isEmpty, "left: \(cloud.objectKeys)")
        XCTAssertTrue(cloud.snapshotIDs.isEmpty)
    }

    func testTheLeaseIsRenewedUntilEnded() async throws {
        let cloud = FakeCloud()
        let lease = RunLease(store: cloud, bucket: cloud.bucket, prefix: prefix,
                             policy: LeasePolicy(staleAfter: .seconds(30), renewEvery: .milliseconds(5)),
                             runID: Naming.makeRunID(), kind: .backup, serverID: nil, zone: zone, project: FakeCloud.project)
        await lease.acquire()
        let key = await lease.key
        func puts() -> Int { cloud.calls.filter { $0 == "PUT object \(key)" }.count }
        let deadline = ContinuousClock.now + .seconds(30)
        while puts() < 3 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        XCTAssertGreaterThanOrEqual(puts(), 3, "the lease was not renewed")
        await lease.end()
        let after = puts()
        XCTAssertNil(cloud.object(key))
        // No renewal may land after the delete (it would resurrect the lease).
        XCTAssertEqual(puts(), after)
        XCTAssertNil(cloud.object(key))
    }

    func testReclaimAfterIsValidated() throws {
        var c = ConfigTests.base
        XCTAssertEqual(try ConnectorConfig.parse(c, role: .importer).reclaimAfter, .seconds(300))
        for (text, seconds) in [("90", 90), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400)] {
            c["reclaim_after"] = text
            XCTAssertEqual(try ConnectorConfig.parse(c, role: .exporter).reclaimAfter, .seconds(seconds), text)
        }
        c["reclaim_after"] = ""
        XCTAssertEqual(try ConnectorConfig.parse(c, role: .importer).reclaimAfter, .seconds(300), "empty means the default")
        for bad in ["10", "0", "-5m", "5x", "8d", "1.5h", "m", "+60"] {
            c["reclaim_after"] = bad
            XCTAssertThrowsError(try ConnectorConfig.parse(c, role: .importer), bad) { error in
                XCTAssertEqual((error as? PluginError)?.field, "reclaim_after", bad)
            }
        }
    }
}
