import Logging
import PluginProtocol

/// One volume's snapshot and export, from creation to a readable object.
struct ExportJob: Sendable {
    let compute: any ComputeAPI
    let store: any ObjectStore
    let zone: Zone
    let bucket: String
    let poller: Poller
    let timeouts: Timeouts
    let notifier: any Notifier
    private let logger = Logger(label: "backup")

    init(compute: any ComputeAPI, store: any ObjectStore, zone: Zone, bucket: String, poller: Poller,
         timeouts: Timeouts, notifier: any Notifier) {
        self.compute = compute
        self.store = store
        self.zone = zone
        self.bucket = bucket
        self.poller = poller
        self.timeouts = timeouts
        self.notifier = notifier
    }

    private func permission(_ volume: PlannedVolume) -> String {
        volume.family == .sbs ? PermissionSet.block : PermissionSet.instances
    }

    /// Creates the temporary snapshot of `volume`.
    func snapshot(_ volume: PlannedVolume, name: String, project: String, tags: [String]) async throws -> CloudSnapshot {
        notifier.progress(Progress(operation: "snapshot", path: volume.imagePath, message: "snapshotting \(volume.familyLabel)"))
        return try await CloudFailure.attempt("snapshot \(volume.familyLabel)", permissionSet: permission(volume)) {
            switch volume.family {
            case .lSSD:
                try await compute.createInstanceSnapshot(zone: zone, name: name, volumeID: volume.id, project: project, tags: tags)
            case .sbs:
                try await compute.createBlockSnapshot(zone: zone, name: name, volumeID: volume.id, project: project, tags: tags)
            }
        }
    }

    func getSnapshot(_ family: VolumeFamily, id: String) async throws -> CloudSnapshot {
        switch family {
        case .lSSD: try await compute.getInstanceSnapshot(zone: zone, id: id)
        case .sbs: try await compute.getBlockSnapshot(zone: zone, id: id)
        }
    }

    /// Waits until the snapshot is `available`.
    func waitAvailable(_ volume: PlannedVolume, snapshotID: String, timeout: Duration, what: String) async throws {
        let family = volume.family
        _ = try await poller.wait(timeout: timeout, describe: "\(what) of \(volume.familyLabel) (snapshot \(snapshotID))") {
            try await CloudFailure.attempt("read snapshot \(snapshotID)", permissionSet: permission(volume)) {
                try await getSnapshot(family, id: snapshotID)
            }
        } until: { snapshot -> Bool? in
            if snapshot.isFailed {
                throw PluginError(.remote, "\(what) of \(volume.familyLabel) failed: snapshot \(snapshotID) is \(snapshot.status)",
                                  hint: "retry the backup; if it fails again, check the volume in the Scaleway console",
                                  cause: snapshot.errorDetails)
            }
            return snapshot.isAvailable ? true : nil
        }
    }

    /// Exports the snapshot to `key` and waits for the finished object.
    ///
    /// The key holds a 0-byte placeholder while exporting: the object is
    /// read only once the snapshot is `available` again AND the object has a
    /// non-zero size. The image's structure is then checked
    /// (``StagedImageCheck``): a corrupt image fails this volume.
    /// - Returns: the image's size in bytes.
    func export(_ volume: PlannedVolume, snapshotID: String, key: String) async throws -> Int64 {
        try await waitAvailable(volume, snapshotID: snapshotID, timeout: timeouts.snapshot, what: "the snapshot")
        notifier.progress(Progress(operation: "export", path: volume.imagePath, done: 0, total: volume.size, unit: "bytes",
                                   message: "exporting \(volume.familyLabel) to s3://\(bucket)/\(key)"))
        try await CloudFailure.attempt("export the snapshot of \(volume.familyLabel) to bucket \(bucket)",
                                       permissionSet: permission(volume)) {
            switch volume.family {
            case .lSSD: try await compute.exportInstanceSnapshot(zone: zone, id: snapshotID, bucket: bucket, key: key)
            case .sbs: try await compute.exportBlockSnapshot(zone: zone, id: snapshotID, bucket: bucket, key: key)
            }
        }
        let family = volume.family
        let size: Int64 = try await poller.wait(timeout: timeouts.export, describe: "the export of \(volume.familyLabel)") {
            let snapshot = try await CloudFailure.attempt("read snapshot \(snapshotID)", permissionSet: permission(volume)) {
                try await getSnapshot(family, id: snapshotID)
            }
            guard snapshot.isAvailable else { return (snapshot, nil as ObjectFacts?) }
            let facts = try await CloudFailure.attempt("read the exported image s3://\(bucket)/\(key)",
                                                       permissionSet: PermissionSet.objectsRead) {
                try await store.headObject(bucket: bucket, key: key)
            }
            return (snapshot, facts)
        } until: { (pair: (CloudSnapshot, ObjectFacts?)) -> Int64? in
            let (snapshot, facts) = pair
            if snapshot.isFailed {
                throw PluginError(.remote, "the export of \(volume.familyLabel) failed: snapshot \(snapshotID) is \(snapshot.status)",
                                  hint: "retry the backup", cause: snapshot.errorDetails)
            }
            guard snapshot.isAvailable, let facts, facts.size > 0 else { return nil }
            return facts.size
        }
        logger.info("exported \(volume.familyLabel): \(size) bytes at s3://\(bucket)/\(key)")
        // A damaged export is refused here, before Plakar can read it.
        try await StagedImageCheck(store: store, bucket: bucket, key: key, size: size, volume: volume).verify()
        notifier.progress(Progress(operation: "ready", path: volume.imagePath, done: size, total: size, unit: "bytes",
                                   message: "image of \(volume.familyLabel) ready (\(size) bytes)"))
        return size
    }

    /// Deletes a snapshot once no operation runs on it (404 counts as done).
    func deleteSnapshot(_ family: VolumeFamily, id: String) async throws {
        _ = try await poller.wait(timeout: timeouts.export, describe: "snapshot \(id) to settle before deletion") { () -> CloudSnapshot? in
            do { return try await getSnapshot(family, id: id) } catch where CloudFailure.isNotFound(error) { return nil }
        } until: { (snapshot: CloudSnapshot?) -> Bool? in
            guard let snapshot else { return true }
            return ["snapshotting", "creating", "exporting", "importing"].contains(snapshot.status) ? nil : true
        }
        do {
            switch family {
            case .lSSD: try await compute.deleteInstanceSnapshot(zone: zone, id: id)
            case .sbs: try await compute.deleteBlockSnapshot(zone: zone, id: id)
            }
        } catch where CloudFailure.isNotFound(error) {
            return
        }
    }
}
