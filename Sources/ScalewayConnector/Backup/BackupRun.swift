import Foundation
import JSONRPC
import Logging
import PluginProtocol

/// The state of one backup session: open, list, reads, close.
///
/// Pipelining: `list` returns as soon as every snapshot is created (with
/// `consistency=stop`, once they are complete and the server is powering
/// back on). Exports then run in the background, one task per volume, all
/// at once; a `read` of an image waits for that image's export only, so the
/// first finished image is read while the others still export.
actor BackupRun {
    let config: ConnectorConfig
    let session: any CloudSession
    let notifier: any Notifier
    let poller: Poller
    let timeouts: Timeouts
    private let logger = Logger(label: "backup")

    private var plan: VolumePlan?
    private var store: (any ObjectStore)?
    private var runID: String?
    private var tree: BackupTree?
    /// Snapshots this run created (cleanup deletes them).
    private var snapshots: [(volume: PlannedVolume, snapshot: CloudSnapshot)] = []
    private var exports: [String: Task<Int64, any Error>] = [:]
    private var readers: [String: ImageReader] = [:]
    /// The blocks all image readers hold together (see ``BlockBudget``).
    private let blockBudget = BlockBudget()
    private var listed = false
    private var closed = false
    private let started = ContinuousClock.now
    private var snapshotDuration: Duration?
    private var listReturned: ContinuousClock.Instant?

    init(config: ConnectorConfig, session: any CloudSession, notifier: any Notifier,
         poller: Poller = .standard, timeouts: Timeouts = Timeouts()) {
        self.config = config
        self.session = session
        self.notifier = notifier
        self.poller = poller
        self.timeouts = timeouts
    }

    // MARK: open / ping

    /// Resolves the instance, sizes its volumes and checks access.
    func prepare() async throws -> VolumePlan {
        if let plan { return plan }
        let compute = session.compute
        let (zone, server) = try await InstanceResolver(compute: compute).resolve(config.target!, zone: config.zone)
        if let project = config.projectID, project != server.project {
            throw PluginError(.config, "instance \(server.id) belongs to project \(server.project), not \(project)",
                              hint: "remove project_id or set it to \(server.project)", field: "project_id")
        }
        let plan = try await VolumePlan.make(zone: zone, server: server, project: server.project, compute: compute)
        let store = session.objectStore(region: zone.region)
        let check = AccessCheck(compute: compute, store: store)
        try await check.checkSnapshots(zone: zone, project: plan.project,
                                       needsBlock: plan.volumes.contains { $0.family == .sbs },
                                       needsInstance: plan.volumes.contains { $0.family == .lSSD },
                                       firstSBS: plan.volumes.first { $0.family == .sbs }?.id)
        try await check.checkBucket(config.bucket, region: zone.region, prefix: config.prefix)
        self.plan = plan
        self.store = store
        return plan
    }

    func open() async throws -> OpenResult {
        let plan = try await prepare()
        logger.info("backing up instance \(plan.server.id) (\(plan.server.name), \(plan.zone)): \(plan.volumes.count) volume(s)")
        return OpenResult(origin: plan.server.id, type: "scaleway-instance", root: "/", flags: ["stream"])
    }

    func ping() async throws -> JSONValue {
        plan = nil
        let plan = try await prepare()
        return [
            "instance": .string(plan.server.id), "name": .string(plan.server.name), "zone": .string(plan.zone.name),
            "state": .string(plan.server.state), "volumes": .int(plan.volumes.count),
            "bucket": .string(config.bucket), "region": .string(plan.zone.region),
        ]
    }

    // MARK: list

    /// Lists once; reads that arrive while the listing runs wait for it.
    func list() async throws -> [ListRecord] {
        guard !closed else { throw PluginError(.state, "list called after close") }
        guard listing == nil else {
            throw PluginError(.state, "list called twice", hint: "the importer is a stream: list once per session")
        }
        listed = true
        let task = Task { try await self.performList() }
        listing = task
        return try await task.value
    }

    private var listing: Task<[ListRecord], any Error>?
    /// The reclaim of killed runs' leftovers started by `list`.
    private var reclaiming: Task<JSONValue, Never>?
    /// This run's lease (written by `list`, ended by `close`).
    private var lease: RunLease?

    private func performList() async throws -> [ListRecord] {
        let plan = try await prepare()
        let store = self.store!
        let runID = Naming.makeRunID()
        self.runID = runID
        // The lease first, so that a run starting meanwhile sees this one alive.
        let lease = RunLease(store: store, bucket: config.bucket, prefix: config.prefix,
                             policy: LeasePolicy(staleAfter: config.reclaimAfter), runID: runID, kind: .backup,
                             serverID: plan.server.id, zone: plan.zone, project: plan.project)
        self.lease = lease
        await lease.acquire()
        if !config.keepStaging {
            var reclaimer = LeftoverReclaimer(compute: session.compute, store: store, zone: plan.zone, bucket: config.bucket,
                                              prefix: config.prefix, serverID: plan.server.id, project: plan.project,
                                              currentRunID: runID)
            reclaimer.policy = LeasePolicy(staleAfter: config.reclaimAfter)
            reclaimer.poller = poller
            reclaimer.notifier = notifier
            // In the background: a dead run's export may take a while to settle; close waits for it.
            reclaiming = Task { await reclaimer.reclaim() }
        }
        let job = ExportJob(compute: session.compute, store: store, zone: plan.zone, bucket: config.bucket,
                            poller: poller, timeouts: timeouts, notifier: notifier)

        var poweredOff = false
        if config.consistency == .stop && !plan.server.isStopped {
            try await powerOff(plan)
            poweredOff = true
        }
        do {
            try await takeSnapshots(plan, runID: runID, job: job)
            if poweredOff {
                // The set is consistent only once every snapshot is complete.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (volume, snapshot) in snapshots {
                        group.addTask {
                            try await job.waitAvailable(volume, snapshotID: snapshot.id, timeout: self.timeouts.snapshot,
                                                        what: "the snapshot")
                        }
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            if poweredOff { await powerOnLogging(plan) }
            throw error
        }
        if poweredOff { try await powerOn(plan) }
        snapshotDuration = ContinuousClock.now - started

        let listedAt = Timestamp.now()
        let manifest = makeManifest(plan, runID: runID, createdAt: listedAt)
        let tree = BackupTree(manifest: manifest, volumes: plan.volumes, listedAt: listedAt)
        self.tree = tree
        for (volume, snapshot) in snapshots {
            let key = Naming.backupStagingKey(prefix: config.prefix, serverID: plan.server.id, runID: runID,
                                              index: volume.index, volumeID: volume.id)
            exports[volume.imagePath] = Task { try await job.export(volume, snapshotID: snapshot.id, key: key) }
        }
        listReturned = .now
        return tree.records
    }

    /// Creates every snapshot at once, as close to one point in time as the API allows.
    private func takeSnapshots(_ plan: VolumePlan, runID: String, job: ExportJob) async throws {
        let tags = Naming.snapshotTags(runID: runID, serverID: plan.server.id,
                                       labels: Labels(environment: config.environment, dataClass: config.dataClass))
        var results: [(PlannedVolume, Result<CloudSnapshot, any Error>)] = []
        await withTaskGroup(of: (PlannedVolume, Result<CloudSnapshot, any Error>).self) { group in
            for volume in plan.volumes {
                group.addTask {
                    do {
                        let snapshot = try await job.snapshot(volume, name: Naming.snapshotName(runID: runID, index: volume.index),
                                                              project: plan.project, tags: tags)
                        return (volume, .success(snapshot))
                    } catch {
                        return (volume, .failure(error))
                    }
                }
            }
            for await result in group { results.append(result) }
        }
        for case let (volume, .success(snapshot)) in results {
            snapshots.append((volume, snapshot))
            logger.info("snapshot \(snapshot.id) of \(volume.familyLabel) created")
        }
        snapshots.sort { $0.volume.index < $1.volume.index }
        let failures = results.compactMap { pair -> (any Error)? in
            if case .failure(let error) = pair.1 { return error } else { return nil }
        }
        if let first = failures.first { throw first }
    }

    private func makeManifest(_ plan: VolumePlan, runID: String, createdAt: String) -> InstanceManifest {
        let s = plan.server
        let records = plan.volumes.map { volume -> VolumeRecord in
            let snapshot = snapshots.first { $0.volume.index == volume.index }?.snapshot
            return VolumeRecord(index: volume.index, id: volume.id, name: volume.name, family: volume.family,
                                volumeType: volume.volumeType, size: volume.size, perfIOPS: volume.perfIOPS,
                                boot: volume.boot, tags: volume.tags,
                                snapshot: snapshot.map { SnapshotRef(id: $0.id, name: $0.name, createdAt: $0.createdAt,
                                                                     api: volume.family == .sbs ? "block" : "instance") })
        }
        let server = ServerDescription(
            id: s.id, name: s.name, hostname: s.hostname, commercialType: s.commercialType, zone: plan.zone.name,
            project: plan.project, organization: s.organization, tags: s.tags, bootType: s.bootType, arch: s.arch,
            state: s.state, image: s.image, securityGroup: s.securityGroup, placementGroup: s.placementGroup,
            network: NetworkFacts(publicIPs: s.publicIPs, privateIP: s.privateIP, macAddress: s.macAddress,
                                  enableIPv6: s.enableIPv6, routedIPEnabled: s.routedIPEnabled,
                                  dynamicIPRequired: s.dynamicIPRequired, privateNICs: s.privateNICCount))
        return InstanceManifest(plugin: .current, runID: runID, createdAt: createdAt, consistency: config.consistency,
                                labels: Labels(environment: config.environment, dataClass: config.dataClass),
                                server: server, volumes: records, skippedVolumes: plan.skipped)
    }

    // MARK: power (consistency=stop)

    private func powerOff(_ plan: VolumePlan) async throws {
        notifier.progress(Progress(operation: "snapshot", message: "powering off \(plan.server.name) for a consistent snapshot"))
        let compute = session.compute
        let zone = plan.zone, id = plan.server.id
        try await CloudFailure.attempt("power off instance \(id)", permissionSet: PermissionSet.instances) {
            try await compute.serverAction(zone: zone, id: id, action: "poweroff")
        }
        _ = try await poller.wait(timeout: timeouts.serverAction, describe: "instance \(id) to stop") {
            try await CloudFailure.attempt("read instance \(id)", permissionSet: PermissionSet.instances) {
                try await compute.getServer(zone: zone, id: id)
            }
        } until: { server in server.isStopped ? true : nil }
    }

    private func powerOn(_ plan: VolumePlan) async throws {
        let compute = session.compute
        let zone = plan.zone, id = plan.server.id
        notifier.progress(Progress(operation: "snapshot", message: "powering \(plan.server.name) back on"))
        try await CloudFailure.attempt("power instance \(id) back on", permissionSet: PermissionSet.instances) {
            try await compute.serverAction(zone: zone, id: id, action: "poweron")
        }
    }

    private func powerOnLogging(_ plan: VolumePlan) async {
        do { try await powerOn(plan) } catch {
            logger.error("could not power instance \(plan.server.id) back on: \(error); start it by hand")
            notifier.log(level: "error", message: "could not power instance \(plan.server.id) back on: \(error)")
        }
    }

    // MARK: read

    func read(path: String, offset: Int64, length: Int) async throws -> ReadChunk {
        guard !closed else { throw PluginError(.state, "read of \(path) after close") }
        if tree == nil, let listing { _ = try? await listing.value }
        guard let tree else { throw PluginError(.state, "read of \(path) before list", hint: "call list first") }
        guard let content = tree.contents[path] else {
            throw PluginError(.notFound, "no file \(path) in this backup",
                              hint: "paths are /instance.json, /volumes/<index>-<volume-id>.json and .qcow2")
        }
        switch content {
        case .bytes(let bytes):
            guard offset >= 0, length >= 0, offset <= Int64(bytes.count) else {
                throw PluginError(.invalidInput, "read of \(path) at offset \(offset) is past its end (\(bytes.count) bytes)")
            }
            let end = min(bytes.count, Int(offset) + length)
            return ReadChunk(pieces: [bytes[Int(offset)..<end]], eof: end == bytes.count)
        case .image(let volume):
            let reader = try await imageReader(path: path, volume: volume)
            return try await reader.read(offset: offset, length: length)
        }
    }

    private func imageReader(path: String, volume: PlannedVolume) async throws -> ImageReader {
        if let reader = readers[path] { return reader }
        guard let export = exports[path] else {
            throw PluginError(.state, "\(path) has no export running")
        }
        let size = try await export.value
        if let reader = readers[path] { return reader }
        let key = Naming.backupStagingKey(prefix: config.prefix, serverID: plan!.server.id, runID: runID!,
                                          index: volume.index, volumeID: volume.id)
        let reader = ImageReader(store: store!, bucket: config.bucket, key: key, size: size, displayPath: path,
                                 budget: blockBudget)
        readers[path] = reader
        return reader
    }

    // MARK: close

    func close() async throws -> JSONValue {
        guard !closed else { return ["status": "already closed"] }
        closed = true
        for task in exports.values { task.cancel() }
        for reader in readers.values { await reader.cancelAll() }
        var failures: [String] = []
        var bytes: Int64 = 0
        var imageBytes: [(String, JSONValue)] = []
        for (path, task) in exports.sorted(by: { $0.key < $1.key }) {
            switch await task.result {
            case .success(let size):
                bytes += size
                imageBytes.append((path, .int(size)))
            case .failure(let error):
                if !(error is CancellationError), (error as? PluginError)?.kind != .cancelled {
                    failures.append("\(path): \(error)")
                }
            }
        }
        var fetched: Int64 = 0
        for reader in readers.values { fetched += await reader.bytesFetched }

        let cleaned = await cleanUp()
        let reclaimed = await reclaiming?.value
        // Cleanup left something: let the lease go stale so a later run reclaims it.
        await lease?.end(abandon: cleaned["cleaned"]?["problems"] != nil)
        let total = ContinuousClock.now - started
        var summary: [(key: String, value: JSONValue)] = [
            ("status", .string(failures.isEmpty ? (listed ? "ok" : "nothing listed") : "incomplete")),
            ("instance", plan.map { .string($0.server.id) } ?? .null),
            ("backup_id", runID.map { .string($0) } ?? .null),
            ("volumes", .int(snapshots.count)),
            ("image_bytes", .int(bytes)),
            ("bytes_read", .int(fetched)),
            ("images", .object(imageBytes.map { (key: $0.0, value: $0.1) })),
            ("durations_ms", [
                "snapshots": snapshotDuration.map { .int($0.milliseconds) } ?? .null,
                "total": .int(total.milliseconds),
            ]),
        ]
        summary += cleaned.objectValue ?? []
        if let reclaimed { summary.append(("reclaimed_leftovers", reclaimed)) }
        if !failures.isEmpty {
            summary.append(("errors", .array(failures.map { .string($0) })))
            notifier.log(level: "error", message: "backup incomplete: \(failures.joined(separator: "; "))")
            throw PluginError(.remote, "backup incomplete: \(failures.joined(separator: "; "))",
                              hint: "the staging area was cleaned; retry the backup")
        }
        return .object(summary)
    }

    /// Deletes the temporary snapshots and the staging objects, unless keep_staging.
    private func cleanUp() async -> JSONValue {
        guard let plan, let store, let runID else { return ["cleaned": ["snapshots": [], "objects": []]] }
        let prefix = Naming.backupStagingPrefix(prefix: config.prefix, serverID: plan.server.id, runID: runID)
        if config.keepStaging {
            logger.info("keep_staging=true: keeping \(snapshots.count) snapshot(s) and s3://\(config.bucket)/\(prefix)")
            return ["kept": ["snapshots": .array(snapshots.map { .string($0.snapshot.id) }),
                             "prefix": .string("s3://\(config.bucket)/\(prefix)")]]
        }
        let job = ExportJob(compute: session.compute, store: store, zone: plan.zone, bucket: config.bucket,
                            poller: poller, timeouts: timeouts, notifier: notifier)
        var deletedSnapshots: [JSONValue] = []
        var problems: [JSONValue] = []
        await withTaskGroup(of: (String, (any Error)?).self) { group in
            for (volume, snapshot) in snapshots {
                group.addTask {
                    do { try await job.deleteSnapshot(volume.family, id: snapshot.id); return (snapshot.id, nil) }
                    catch { return (snapshot.id, error) }
                }
            }
            for await (id, error) in group {
                if let error {
                    logger.error("could not delete snapshot \(id): \(error)")
                    problems.append(.string("snapshot \(id): \(error)"))
                } else {
                    deletedSnapshots.append(.string(id))
                }
            }
        }
        var deletedObjects: [JSONValue] = []
        do {
            for object in try await store.listObjects(bucket: config.bucket, prefix: prefix) {
                do {
                    try await store.deleteObject(bucket: config.bucket, key: object.key)
                    deletedObjects.append(.string(object.key))
                } catch where CloudFailure.isNotFound(error) {
                } catch {
                    problems.append(.string("object \(object.key): \(error)"))
                }
            }
        } catch {
            problems.append(.string("listing s3://\(config.bucket)/\(prefix): \(error)"))
        }
        logger.info("cleaned \(deletedSnapshots.count) snapshot(s) and \(deletedObjects.count) staging object(s)")
        var cleaned: JSONValue = ["snapshots": .array(deletedSnapshots), "objects": .array(deletedObjects)]
        if !problems.isEmpty {
            notifier.log(level: "error", message: "cleanup left resources behind: \(JSONWriter.string(.array(problems)))")
            cleaned = ["snapshots": .array(deletedSnapshots), "objects": .array(deletedObjects), "problems": .array(problems)]
        }
        return ["cleaned": cleaned]
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
