import Foundation
import JSONRPC
import Logging
import PluginProtocol

/// Deletes what killed backups and restores left behind, and says what.
///
/// Runs when a run starts creating things: at the start of `list` for a
/// backup, at the first upload for a restore; never at `open` or `ping`,
/// which have no side effects. Best effort: a failure is logged and never
/// fails the run. keep_staging=true skips it (the user keeps staging areas
/// on purpose).
///
/// Two rules, one per kind of evidence:
///
/// 1. **Leases** (`<prefix>runs/<run-id>.json`, see ``RunLease``). A run
///    whose lease is dead (its holder provably gone on this machine, or
///    not renewed for ``LeasePolicy/staleAfter``) is reclaimed whole, in
///    its lease's zone: for a restore not yet assembled, first the volumes
///    tagged `plakar-scaleway-restore=<run-id>` (waited out of `creating`,
///    which keeps their snapshot busy) and a server made only of them
///    (stopped, not the run's target); then its snapshots (tagged
///    `plakar-scaleway-run=<run-id>`), waited out of transient states (an
///    export or import still running would otherwise write an object after
///    we listed, or refuse the delete), then deleted; then its incomplete
///    multipart uploads and objects under its staging prefix; the lease last, and only when all of that is gone,
///    so that a later run retries what failed. A live lease protects
///    everything of its run.
/// 2. **Age**, for leftovers of runs with no lease at all (versions
///    before leases, a lease lost): objects, uploads and snapshots of runs
///    older than ``minimumAge`` (run ids start with their UTC start time),
///    limited to this backup's instance and to restore staging; snapshots
///    in a transient state are skipped. Volumes and servers are never
///    reclaimed by age: only a dead lease proves a restore did not finish.
///
/// Nothing outside the prefix, without our tags, or of a run id not of
/// our shape (``Naming/isRunID(_:)``) is ever touched.
struct LeftoverReclaimer: Sendable {
    static let minimumAge: TimeInterval = 24 * 3600
    /// Snapshot states in which Scaleway refuses a delete (409 transient_state).
    static let transientStates: Set<String> = ["snapshotting", "creating", "exporting", "importing", "deleting"]

    let compute: any ComputeAPI
    let store: any ObjectStore
    /// The zone of this run: where runs without a (readable) zone are looked for.
    let zone: Zone
    let bucket: String
    let prefix: String
    /// A backup's instance: its age-rule leftovers are reclaimed. nil for a restore.
    let serverID: String?
    let project: String
    let currentRunID: String
    var policy = LeasePolicy(staleAfter: ConnectorConfig.defaultReclaimAfter)
    var poller: Poller = .standard
    /// How long a dead run's snapshot may stay in a transient state before
    /// it is left for a later run.
    var settleTimeout: Duration = .seconds(600)
    var notifier: (any Notifier)?
    private let logger = Logger(label: "reclaim")

    init(compute: any ComputeAPI, store: any ObjectStore, zone: Zone, bucket: String, prefix: String,
         serverID: String?, project: String, currentRunID: String) {
        self.compute = compute
        self.store = store
        self.zone = zone
        self.bucket = bucket
        self.prefix = prefix
        self.serverID = serverID
        self.project = project
        self.currentRunID = currentRunID
    }

    /// The start time encoded in a run id, e.g. `20261204T155300Z-1a2b3c`.
    static func startTime(ofRunID runID: String) -> Date? {
        Timestamp.parseBasic(runID.prefix(16))
    }

    /// Age rule: an id of our shape, not ours, started more than ``minimumAge`` ago.
    func isOld(_ runID: String, now: Date) -> Bool {
        guard runID != currentRunID, Naming.isRunID(runID), let start = Self.startTime(ofRunID: runID) else { return false }
        return now.timeIntervalSince(start) > Self.minimumAge
    }

    /// Why the lease's run is dead, or nil while it may be alive.
    func deathReason(_ lease: RunLeaseRecord, now: Date) -> String? {
        if lease.holder.isProvablyGone() {
            return "its process \(lease.holder.pid) on \(lease.holder.host) is gone"
        }
        let silent = now.timeIntervalSince(lease.renewedAt)
        let limit = Double(policy.staleAfter.components.seconds)
        if silent > limit {
            return "its lease was not renewed for \(Int(silent)) s (reclaim_after \(Int(limit)) s)"
        }
        return nil
    }

    // MARK: the whole pass

    func reclaim(now: Date = Date()) async -> JSONValue {
        var report = Report()
        if let (leases, leasedRuns) = await readLeases(now: now, report: &report) {
            for (key, lease, why) in leases {
                await reclaimDeadRun(lease, leaseKey: key, why: why, report: &report)
            }
            await reclaimByAge(excluding: leasedRuns.union([currentRunID]), now: now, report: &report)
        }
        if !report.isEmpty {
            let message = "reclaimed leftovers of killed runs: \(report.summary)"
            logger.info("\(message)")
            notifier?.log(level: "info", message: message)
            notifier?.progress(Progress(operation: "reclaim", message: message))
        }
        for problem in report.problems { logger.warning("\(problem)") }
        return report.json
    }

    /// Dead leases (key, record, why), and the ids of every run that has a
    /// lease; nil when the leases cannot be listed (then nothing is touched:
    /// the age rule must not act on runs whose leases it cannot see).
    private func readLeases(now: Date, report: inout Report)
        async -> ([(String, RunLeaseRecord, String)], Set<String>)?
    {
        var dead: [(String, RunLeaseRecord, String)] = []
        var runs = Set<String>()
        let objects: [ObjectFacts]
        do {
            objects = try await store.listObjects(bucket: bucket, prefix: Naming.leasePrefix(prefix: prefix))
        } catch {
            report.problems.append("could not list the run leases: \(error)")
            return nil
        }
        for object in objects {
            guard let runID = Naming.runID(ofLeaseKey: object.key, prefix: prefix), runID != currentRunID else { continue }
            runs.insert(runID)
            guard object.size <= 64 * 1024 else { continue }
            do {
                let lease = try RunLeaseRecord.decode(try await read(object.key, size: object.size))
                guard lease.runID == runID else {
                    report.problems.append("lease \(object.key) names run \(lease.runID): left alone")
                    continue
                }
                if let why = deathReason(lease, now: now) {
                    dead.append((object.key, lease, why))
                } else {
                    logger.debug("run \(runID) (\(lease.kind.rawValue)) is alive: its leftovers are not touched")
                }
            } catch where CloudFailure.isNotFound(error) {
                // Its run just ended and deleted it.
            } catch {
                // Unreadable: protects its run until the age rule would apply.
                if isOld(runID, now: now) { runs.remove(runID) }
                report.problems.append("could not read lease \(object.key): \(error)")
            }
        }
        return (dead, runs)
    }

    private func read(_ key: String, size: Int64) async throws -> [UInt8] {
        let collected = ByteAccumulator(capacity: Int(size))
        try await store.getObject(bucket: bucket, key: key, offset: 0, length: max(size, 1)) { collected.append($0) }
        return collected.take()
    }

    // MARK: rule 1: dead leases

    private func reclaimDeadRun(_ lease: RunLeaseRecord, leaseKey: String, why: String, report: inout Report) async {
        let runID = lease.runID
        let zone = Zone(lease.zone) ?? self.zone
        logger.info("run \(runID) (\(lease.kind.rawValue)) is dead: \(why); reclaiming what it left")
        let before = report.problems.count
        let runTag = Naming.runTag(runID: runID)
        if lease.kind == .restore && lease.phase == .running {
            // Volumes first: one still being created from an imported snapshot keeps it busy.
            await reclaimRestoredVolumes(lease, zone: zone, report: &report)
        }
        await reclaimSnapshots(zone: zone, project: lease.project, wait: true, report: &report) { snapshot in
            snapshot.tags.contains(Naming.tag) && snapshot.tags.contains(runTag)
        }
        let staging = lease.kind == .backup
            ? lease.serverID.flatMap { ConfigValidation.isUUID($0) ? Naming.backupStagingPrefix(prefix: prefix, serverID: $0, runID: runID) : nil }
            : Naming.restoreStagingPrefix(prefix: prefix, runID: runID)
        if let staging {
            await reclaimUploads(under: staging, report: &report) { _ in true }
            await reclaimObjects(under: staging, report: &report) { _ in true }
        } else {
            report.problems.append("lease \(leaseKey) names no valid instance id: its staging objects were not looked for")
        }
        guard report.problems.count == before else {
            report.problems.append("kept lease \(leaseKey): a later run retries run \(runID)")
            return
        }
        do {
            try await store.deleteObject(bucket: bucket, key: leaseKey)
            report.objects.append(leaseKey)
            logger.info("reclaimed lease s3://\(bucket)/\(leaseKey) of run \(runID)")
        } catch where CloudFailure.isNotFound(error) {
        } catch {
            report.problems.append("could not delete lease \(leaseKey): \(error)")
        }
        report.runs.append(["run_id": .string(runID), "kind": .string(lease.kind.rawValue), "why": .string(why)])
    }

    /// Volumes a dead, unassembled restore created, and a server made of nothing else.
    private func reclaimRestoredVolumes(_ lease: RunLeaseRecord, zone: Zone, report: inout Report) async {
        let tag = Naming.restoreTag(runID: lease.runID)
        var volumes: [(VolumeFamily, CloudVolume)] = []
        for family in [VolumeFamily.lSSD, .sbs] {
            do {
                let found = family == .lSSD
                    ? try await compute.listInstanceVolumes(zone: zone, project: lease.project, tags: [tag])
                    : try await compute.listBlockVolumes(zone: zone, project: lease.project, tags: [tag])
                volumes += found.filter { $0.tags.contains(tag) }.map { (family, $0) }
            } catch {
                report.problems.append("could not look for the \(family.rawValue) volumes of run \(lease.runID): \(error)")
            }
        }
        var servers: [String: Bool] = [:]  // server id -> may be deleted
        for (_, volume) in volumes {
            guard let server = volume.serverID, servers[server] == nil else { continue }
            servers[server] = await isServerOfRun(server, zone: zone, tag: tag, lease: lease)
        }
        var detachedFrom: Set<String> = []
        for (server, deletable) in servers.sorted(by: { $0.key < $1.key }) where deletable {
            do {
                // Detach first, so that deleting the server deletes no volume by side effect.
                _ = try await compute.setServerVolumes(zone: zone, id: server, volumes: [:])
                detachedFrom.insert(server)
                try await compute.deleteServer(zone: zone, id: server)
                report.servers.append(server)
                logger.info("reclaimed server \(server) left by restore \(lease.runID)")
            } catch where CloudFailure.isNotFound(error) {
            } catch {
                report.problems.append("could not delete server \(server) of run \(lease.runID): \(error)")
            }
        }
        for (family, volume) in volumes {
            if let server = volume.serverID, servers[server] != true {
                report.problems.append("volume \(volume.id) of run \(lease.runID) is attached to instance \(server), which the run did not create (or which runs): left alone")
                continue
            }
            do {
                try await waitVolumeSettled(family, volume, zone: zone)
                if family == .sbs, let server = volume.serverID, detachedFrom.contains(server) {
                    // Detached with its server above: an SBS volume is `available` only once that settles.
                    try await poller.waitForDetachment(of: volume.id, zone: zone, compute: compute, timeout: settleTimeout)
                }
                try await compute.deleteVolume(family, zone: zone, id: volume.id)
                report.volumes.append(volume.id)
                logger.info("reclaimed \(family.rawValue) volume \(volume.id) (\(volume.name)) left by restore \(lease.runID)")
            } catch where CloudFailure.isNotFound(error) {
            } catch {
                report.problems.append("could not delete volume \(volume.id) of run \(lease.runID): \(error)")
            }
        }
    }

    /// A server the dead restore created: not its target, stopped, and every volume tagged by the run.
    private func isServerOfRun(_ id: String, zone: Zone, tag: String, lease: RunLeaseRecord) async -> Bool {
        guard id != lease.serverID, let server = try? await compute.getServer(zone: zone, id: id) else { return false }
        guard server.isStopped, !server.volumes.isEmpty else { return false }
        for entry in server.volumes.values {
            let tags: [String]
            if entry.volumeType == "sbs_volume" {
                guard let volume = try? await compute.getBlockVolume(zone: zone, id: entry.id) else { return false }
                tags = volume.tags
            } else {
                tags = entry.tags
            }
            guard tags.contains(tag) else { return false }
        }
        return true
    }

    private func waitVolumeSettled(_ family: VolumeFamily, _ volume: CloudVolume, zone: Zone) async throws {
        guard volume.status == "creating" || volume.status == "snapshotting" else { return }
        let compute = self.compute
        _ = try await poller.wait(timeout: settleTimeout, describe: "volume \(volume.id) to settle") {
            try await compute.getVolume(family, zone: zone, id: volume.id)
        } until: { (v: CloudVolume) -> Bool? in
            v.status == "creating" || v.status == "snapshotting" ? nil : true
        }
    }

    // MARK: rule 2: age

    private func reclaimByAge(excluding leased: Set<String>, now: Date, report: inout Report) async {
        let serverTag = serverID.map { "plakar-scaleway-server=\($0)" }
        func run(of snapshot: CloudSnapshot) -> String? {
            snapshot.tags.first { $0.hasPrefix("plakar-scaleway-run=") }.map { String($0.dropFirst("plakar-scaleway-run=".count)) }
        }
        await reclaimSnapshots(zone: zone, project: project, wait: false, report: &report) { snapshot in
            guard snapshot.tags.contains(Naming.tag), let runID = run(of: snapshot), !leased.contains(runID),
                  isOld(runID, now: now) else { return false }
            let server = snapshot.tags.first { $0.hasPrefix("plakar-scaleway-server=") }
            // This instance's backup snapshots, and restore imports (which carry no server tag).
            return server == nil || server == serverTag
        }
        var folders = ["\(prefix)restore/"]
        if let serverID, ConfigValidation.isUUID(serverID) { folders.append("\(prefix)\(serverID)/") }
        for folder in folders {
            let oldRun = { (key: String) -> Bool in
                let runID = key.dropFirst(folder.count).split(separator: "/").first.map(String.init) ?? ""
                return !leased.contains(runID) && isOld(runID, now: now)
            }
            await reclaimUploads(under: folder, report: &report, oldRun)
            await reclaimObjects(under: folder, report: &report, oldRun)
        }
    }

    // MARK: shared steps

    private func reclaimSnapshots(zone: Zone, project: String, wait: Bool, report: inout Report,
                                  _ select: (CloudSnapshot) -> Bool) async {
        for family in [VolumeFamily.lSSD, .sbs] {
            let found: [CloudSnapshot]
            do {
                found = family == .lSSD ? try await compute.listInstanceSnapshots(zone: zone, project: project)
                                        : try await compute.listBlockSnapshots(zone: zone, project: project)
            } catch {
                report.problems.append("could not look for leftover \(family.rawValue) snapshots in \(zone): \(error)")
                continue
            }
            for snapshot in found where select(snapshot) {
                do {
                    if Self.transientStates.contains(snapshot.status) {
                        guard wait else { continue }
                        try await waitSnapshotSettled(family, snapshot.id, zone: zone)
                    }
                    try await compute.deleteSnapshot(family, zone: zone, id: snapshot.id)
                    report.snapshots.append(snapshot.id)
                    logger.info("reclaimed \(family.rawValue) snapshot \(snapshot.id) (\(snapshot.name))")
                } catch where CloudFailure.isNotFound(error) {
                } catch {
                    report.problems.append("could not reclaim snapshot \(snapshot.id): \(error)")
                }
            }
        }
    }

    private func waitSnapshotSettled(_ family: VolumeFamily, _ id: String, zone: Zone) async throws {
        let compute = self.compute
        _ = try await poller.wait(timeout: settleTimeout, describe: "snapshot \(id) to leave its transient state") {
            try await compute.getSnapshot(family, zone: zone, id: id)
        } until: { (s: CloudSnapshot) -> Bool? in
            Self.transientStates.contains(s.status) ? nil : true
        }
    }

    private func reclaimUploads(under folder: String, report: inout Report, _ select: (String) -> Bool) async {
        do {
            for upload in try await store.listMultipartUploads(bucket: bucket, prefix: folder)
            where upload.key.hasPrefix(folder) && select(upload.key) {
                do {
                    try await store.abortMultipartUpload(bucket: bucket, key: upload.key, uploadID: upload.uploadID)
                    report.uploads.append(upload.uploadID)
                    logger.info("reclaimed incomplete upload \(upload.uploadID) of s3://\(bucket)/\(upload.key)")
                } catch where CloudFailure.isNotFound(error) {
                } catch {
                    report.problems.append("could not abort upload \(upload.uploadID) of \(upload.key): \(error)")
                }
            }
        } catch {
            report.problems.append("could not list incomplete uploads under s3://\(bucket)/\(folder): \(error)")
        }
    }

    private func reclaimObjects(under folder: String, report: inout Report, _ select: (String) -> Bool) async {
        do {
            for object in try await store.listObjects(bucket: bucket, prefix: folder)
            where object.key.hasPrefix(folder) && select(object.key) {
                do {
                    try await store.deleteObject(bucket: bucket, key: object.key)
                    report.objects.append(object.key)
                    logger.info("reclaimed object s3://\(bucket)/\(object.key)")
                } catch where CloudFailure.isNotFound(error) {
                } catch {
                    report.problems.append("could not delete object \(object.key): \(error)")
                }
            }
        } catch {
            report.problems.append("could not list s3://\(bucket)/\(folder): \(error)")
        }
    }

    /// What one pass reclaimed, by kind, and what it could not.
    struct Report {
        var runs: [JSONValue] = []
        var snapshots: [String] = []
        var objects: [String] = []
        var uploads: [String] = []
        var volumes: [String] = []
        var servers: [String] = []
        var problems: [String] = []

        var isEmpty: Bool { snapshots.isEmpty && objects.isEmpty && uploads.isEmpty && volumes.isEmpty && servers.isEmpty }

        var summary: String {
            var parts: [String] = []
            for (name, ids) in [("snapshot", snapshots), ("object", objects), ("incomplete upload", uploads),
                                ("volume", volumes), ("server", servers)] where !ids.isEmpty {
                parts.append("\(ids.count) \(name)(s) [\(ids.joined(separator: ", "))]")
            }
            return parts.joined(separator: ", ")
        }

        var json: JSONValue {
            func list(_ ids: [String]) -> JSONValue { .array(ids.map { .string($0) }) }
            var out: [(key: String, value: JSONValue)] = [
                ("snapshots", list(snapshots)), ("objects", list(objects)), ("multipart_uploads", list(uploads)),
                ("volumes", list(volumes)), ("servers", list(servers)),
            ]
            if !runs.isEmpty { out.append(("runs", .array(runs))) }
            if !problems.isEmpty { out.append(("problems", list(problems))) }
            return .object(out)
        }
    }
}
