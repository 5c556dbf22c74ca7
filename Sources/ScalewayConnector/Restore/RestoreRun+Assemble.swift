import JSONRPC
import PluginProtocol

/// `close`: wait for the imports, create the volumes, then the server (new
/// mode), swap the volumes (in_place), or attach/leave them (partial
/// restore), each time until the SBS attachments have settled. On success
/// the restore tag is dropped from the new volumes (once the lease says
/// `assembled`), the staging objects and the imported snapshots are deleted; on failure everything this restore created is rolled back
/// (unless keep_on_failure=true) and nothing that existed before is deleted.
extension RestoreRun {
    func close() async throws -> JSONValue {
        guard !closed else { return ["status": "already closed"] }
        closed = true
        let outcome: Result<JSONValue, any Error>
        do { outcome = .success(try await finishRun()) } catch { outcome = .failure(error) }
        let reclaimed = await reclaiming?.value
        // Cleanup or rollback left something: let the lease go stale so a later run reclaims it.
        await lease?.end(abandon: cleanupLeftSomething)
        var result = try outcome.get()
        if let reclaimed, case .object(let fields) = result { result = .object(fields + [("reclaimed_leftovers", reclaimed)]) }
        return result
    }

    /// Everything `close` does but the lease and the reclaim report.
    private func finishRun() async throws -> JSONValue {
        if let file = current {
            current = nil
            if let stream = file.stream {
                await stream.abort()
                ledger.openUploads[stream.key] = nil
            }
            if let refusal = file.refusal {
                settleRefused(file, refusal)
            } else if case .image = file.kind {
                fatal.append("\(file.path) was cut short after \(file.received) bytes (the host closed before the end of the file)")
            }
        }
        if staged.isEmpty && fatal.isEmpty && ledger.openUploads.isEmpty {
            return ["status": "nothing to restore", "ignored": .array(ignored.map { .string($0) })]
        }
        do {
            guard fatal.isEmpty else {
                throw PluginError(.invalidInput, "restore refused: \(fatal.joined(separator: "; "))",
                                  hint: "nothing was left behind; fix or remove the files named")
            }
            for index in staged.keys.sorted() { startImport(index: index) }
            var snapshots: [Int: CloudSnapshot] = [:]
            var importErrors: [String] = []
            for index in imports.keys.sorted() {
                do { snapshots[index] = try await imports[index]!.value } catch {
                    importErrors.append((error as? PluginError)?.message ?? "\(error)")
                }
            }
            guard importErrors.isEmpty else {
                throw PluginError(.remote, "restore failed: \(importErrors.joined(separator: "; "))")
            }
            let result = try await assemble(snapshots: snapshots)
            // From here the volumes and server are the user's: a reclaim must not undo them.
            await lease?.markAssembled()
            // Only now may the tag that lets a reclaim find them go: dropped earlier, a
            // kill before `assembled` would leave untagged volumes no reclaim can find.
            let tagKept = await dropRestoreTags()
            let cleaned = await cleanUp(success: true)
            return .object((result.objectValue ?? []) + [("cleaned", cleaned)]
                           + (tagKept.isEmpty ? [] : [("restore_tag_kept", .array(tagKept.map { .string($0) }))])
                           + [("duration_ms", .int((ContinuousClock.now - started).milliseconds))])
        } catch {
            let failure = CloudFailure.map(error, action: "restore")
            logger.error("restore failed: \(failure)")
            let rolledBack = await rollBack()
            let cleaned = await cleanUp(success: false)
            notifier.log(level: "error", message: "restore failed: \(failure.message); rolled back: \(JSONWriter.string(rolledBack)); cleaned: \(JSONWriter.string(cleaned))")
            var failureWithCause = failure
            failureWithCause.cause = [failure.cause, "rolled back: \(JSONWriter.string(rolledBack))"].compactMap { $0 }.joined(separator: "; ")
            throw failureWithCause
        }
    }

    // MARK: assemble

    private func assemble(snapshots: [Int: CloudSnapshot]) async throws -> JSONValue {
        let (zone, project) = try placement(for: "the instance")
        let compute = session.compute
        var created: [Int: (family: VolumeFamily, id: String)] = [:]
        for index in staged.keys.sorted() {
            let image = staged[index]!
            let desc = describe(index: index, volumeID: image.volumeID)
            let snapshot = snapshots[index]!
            notifier.progress(Progress(operation: "restore", path: image.path, message: "creating \(desc.family == .sbs ? "SBS" : "l_ssd") volume \(desc.name)"))
            let volume = try await createVolume(desc, snapshotID: snapshot.id, zone: zone, project: project, index: index)
            created[index] = (desc.family, volume.id)
        }
        let volumeList: JSONValue = .array(created.keys.sorted().map { index in
            ["index": .int(index), "id": .string(created[index]!.id), "family": .string(created[index]!.family.rawValue),
             "from_snapshot": .string(snapshots[index]!.id)]
        })
        let fullInstance = manifest != nil && staged[0] != nil

        if fullInstance && config.restoreMode == .new {
            let manifest = self.manifest!
            var templates: [Int: ServerVolumeTemplate] = [:]
            for (position, index) in created.keys.sorted().enumerated() {
                templates[position] = template(created[index]!, name: describe(index: index, volumeID: staged[index]!.volumeID).name)
            }
            let name = config.name ?? "\(manifest.server.name)-restored"
            let request = CreateServerRequest(name: name, commercialType: config.commercialType ?? manifest.server.commercialType,
                                              project: project, tags: manifest.server.tags,
                                              bootType: manifest.server.bootType, volumes: templates)
            notifier.progress(Progress(operation: "restore", message: "creating instance \(name) (\(request.commercialType))"))
            let server = try await CloudFailure.attempt("create instance \(name)", permissionSet: PermissionSet.instances) {
                try await compute.createServer(zone: zone, request)
            }
            ledger.server = server.id
            try await poller.waitForAttachments(of: server.id, zone: zone, compute: compute, timeout: timeouts.volume)
            if config.startOnRestore { try await power(zone: zone, id: server.id, action: "poweron") }
            return ["status": "restored", "mode": "new", "server": .string(server.id), "name": .string(name),
                    "zone": .string(zone.name), "volumes": volumeList,
                    "snapshots": .array(snapshots.values.map { .string($0.id) })]
        }

        if fullInstance && config.restoreMode == .inPlace {
            let (targetZone, _) = target!
            var server = try await CloudFailure.attempt("read instance \(target!.server.id)", permissionSet: PermissionSet.instances) {
                try await compute.getServer(zone: targetZone, id: target!.server.id)
            }
            if server.isRunning && !config.force {
                throw PluginError(.state, "instance \(server.id) is \(server.state): an in-place restore refuses to touch a running instance",
                                  hint: "stop it, or set force=true", field: "force")
            }
            ledger.originalVolumes = server.volumes.mapValues { entry in
                entry.volumeType == "sbs_volume" ? .blockVolume(id: entry.id) : .localVolume(id: entry.id, name: entry.name)
            }
            if server.isRunning {
                ledger.targetWasRunning = true
                try await power(zone: targetZone, id: server.id, action: "poweroff")
                ledger.targetPoweredOff = true
            }
            var templates: [Int: ServerVolumeTemplate] = [:]
            for (position, index) in created.keys.sorted().enumerated() {
                templates[position] = template(created[index]!, name: describe(index: index, volumeID: staged[index]!.volumeID).name)
            }
            let before = server.volumes.values.map(\.id)
            let detachedSBS = server.volumes.values.filter { $0.volumeType == "sbs_volume" }.map(\.id)
            server = try await CloudFailure.attempt("swap the volumes of instance \(server.id)", permissionSet: PermissionSet.instances) {
                try await compute.setServerVolumes(zone: targetZone, id: server.id, volumes: templates)
            }
            ledger.detached = before
            try await poller.waitForAttachments(of: server.id, zone: targetZone, compute: compute, timeout: timeouts.volume)
            for id in detachedSBS {
                try await poller.waitForDetachment(of: id, zone: targetZone, compute: compute, timeout: timeouts.volume)
            }
            if ledger.targetWasRunning || config.startOnRestore {
                try await power(zone: targetZone, id: server.id, action: "poweron")
                ledger.targetPoweredOff = false
            }
            return ["status": "restored", "mode": "in_place", "server": .string(server.id), "zone": .string(targetZone.name),
                    "volumes": volumeList, "detached_and_kept": .array(before.map { .string($0) }),
                    "snapshots": .array(snapshots.values.map { .string($0.id) })]
        }

        // Partial restore: volumes alone, attached to the target when one is named.
        if let (targetZone, targetServer) = target {
            var server = try await CloudFailure.attempt("read instance \(targetServer.id)", permissionSet: PermissionSet.instances) {
                try await compute.getServer(zone: targetZone, id: targetServer.id)
            }
            var templates = server.volumes.mapValues { entry -> ServerVolumeTemplate in
                entry.volumeType == "sbs_volume" ? .blockVolume(id: entry.id) : .localVolume(id: entry.id, name: entry.name)
            }
            ledger.originalVolumes = templates
            for index in created.keys.sorted() {
                if created[index]!.family == .lSSD && server.isRunning {
                    throw PluginError(.state, "instance \(server.id) is running: an l_ssd volume can only be attached to a stopped instance",
                                      hint: "stop the instance and restore again")
                }
                let slot = (templates.keys.max() ?? -1) + 1
                templates[slot] = template(created[index]!, name: describe(index: index, volumeID: staged[index]!.volumeID).name)
            }
            server = try await CloudFailure.attempt("attach the restored volumes to instance \(server.id)", permissionSet: PermissionSet.instances) {
                try await compute.setServerVolumes(zone: targetZone, id: server.id, volumes: templates)
            }
            try await poller.waitForAttachments(of: server.id, zone: targetZone, compute: compute, timeout: timeouts.volume)
            return ["status": "restored", "mode": "volumes", "attached_to": .string(server.id), "zone": .string(targetZone.name),
                    "volumes": volumeList, "snapshots": .array(snapshots.values.map { .string($0.id) })]
        }
        return ["status": "restored", "mode": "volumes", "zone": .string(zone.name), "volumes": volumeList,
                "snapshots": .array(snapshots.values.map { .string($0.id) })]
    }

    private func template(_ volume: (family: VolumeFamily, id: String), name: String) -> ServerVolumeTemplate {
        volume.family == .sbs ? .blockVolume(id: volume.id) : .localVolume(id: volume.id, name: name)
    }

    private func createVolume(_ desc: VolumeDescription, snapshotID: String, zone: Zone, project: String,
                              index: Int) async throws -> CloudVolume {
        let compute = session.compute
        // Tagged at creation, so that a killed restore's volumes are found by its run id.
        let tags = Self.userTags(desc) + [Naming.restoreTag(runID: runID)]
        switch desc.family {
        case .lSSD:
            let volume = try await CloudFailure.attempt("create l_ssd volume \(desc.name)", permissionSet: PermissionSet.instances) {
                try await compute.createInstanceVolume(zone: zone, name: desc.name, project: project, baseSnapshot: snapshotID, tags: tags)
            }
            ledger.volumes.append((.lSSD, volume.id, index))
            return try await poller.wait(timeout: timeouts.volume, describe: "l_ssd volume \(volume.id) to be available") {
                try await CloudFailure.attempt("read volume \(volume.id)", permissionSet: PermissionSet.instances) {
                    try await compute.getInstanceVolume(zone: zone, id: volume.id)
                }
            } until: { (v: CloudVolume) -> CloudVolume? in
                if v.status == "error" { throw PluginError(.remote, "l_ssd volume \(v.id) went into error") }
                return v.status == "available" ? v : nil
            }
        case .sbs:
            let iops = config.perfIOPS ?? desc.perfIOPS ?? 5000
            let volume = try await CloudFailure.attempt("create SBS volume \(desc.name)", permissionSet: PermissionSet.block) {
                try await compute.createBlockVolume(zone: zone, name: desc.name, project: project, snapshotID: snapshotID,
                                                    perfIOPS: iops, tags: tags)
            }
            ledger.volumes.append((.sbs, volume.id, index))
            return try await poller.wait(timeout: timeouts.volume, describe: "SBS volume \(volume.id) to be available") {
                try await CloudFailure.attempt("read volume \(volume.id)", permissionSet: PermissionSet.block) {
                    try await compute.getBlockVolume(zone: zone, id: volume.id)
                }
            } until: { (v: CloudVolume) -> CloudVolume? in
                if v.status == "error" { throw PluginError(.remote, "SBS volume \(v.id) went into error") }
                return v.status == "available" ? v : nil
            }
        }
    }

    /// The original volume's tags, without any restore tag.
    private static func userTags(_ desc: VolumeDescription) -> [String] {
        desc.tags.filter { !$0.hasPrefix("plakar-scaleway-restore=") }
    }

    /// Gives the new volumes back their original tags, without this run's
    /// restore tag; returns the volumes that keep it (logged, not fatal: the
    /// tag is inert once the lease is `assembled`).
    private func dropRestoreTags() async -> [String] {
        guard let zone else { return [] }
        var kept: [String] = []
        for volume in ledger.volumes {
            let tags = Self.userTags(describe(index: volume.index, volumeID: staged[volume.index]!.volumeID))
            do {
                try await session.compute.setVolumeTags(volume.family, zone: zone, id: volume.id, tags: tags)
            } catch {
                kept.append(volume.id)
                logger.warning("volume \(volume.id) keeps its tag \(Naming.restoreTag(runID: runID)): \(error)")
            }
        }
        return kept
    }

    /// Sends a power action and waits for its end state.
    func power(zone: Zone, id: String, action: String) async throws {
        let compute = session.compute
        try await CloudFailure.attempt("\(action) instance \(id)", permissionSet: PermissionSet.instances) {
            try await compute.serverAction(zone: zone, id: id, action: action)
        }
        _ = try await poller.wait(timeout: timeouts.serverAction, describe: "instance \(id) to \(action)") {
            try await CloudFailure.attempt("read instance \(id)", permissionSet: PermissionSet.instances) {
                try await compute.getServer(zone: zone, id: id)
            }
        } until: { (s: CloudServer) -> Bool? in
            action == "poweron" ? (s.state == "running" ? true : nil) : (s.isStopped ? true : nil)
        }
    }

    // MARK: cleanup and rollback

    /// Undoes what this restore created (never what existed before).
    private func rollBack() async -> JSONValue {
        guard let zone else { return [] }
        let compute = session.compute
        for task in imports.values { task.cancel(); _ = await task.result }
        if config.keepOnFailure {
            logger.warning("keep_on_failure=true: keeping server \(ledger.server ?? "-"), volumes \(ledger.volumes.map(\.id))")
            return ["kept": ["server": ledger.server.map { .string($0) } ?? .null,
                             "volumes": .array(ledger.volumes.map { .string($0.id) })]]
        }
        var undone: [JSONValue] = []
        // SBS volumes detach asynchronously: wait for that before deleting them,
        // unless what they hang on could not be undone (they would never detach).
        var detachWillSettle = true
        if let server = ledger.server {
            do {
                if let s = try? await compute.getServer(zone: zone, id: server), !s.isStopped {
                    try await power(zone: zone, id: server, action: "poweroff")
                }
                // Detach everything first so deleting the server deletes no volume by side effect.
                _ = try? await compute.setServerVolumes(zone: zone, id: server, volumes: [:])
                try await compute.deleteServer(zone: zone, id: server)
                undone.append(.string("server \(server)"))
            } catch where CloudFailure.isNotFound(error) {
            } catch {
                cleanupLeftSomething = true
                detachWillSettle = false
                undone.append(.string("FAILED to delete server \(server): \(error)"))
            }
        }
        if let original = ledger.originalVolumes, let (targetZone, targetServer) = target {
            do {
                _ = try await compute.setServerVolumes(zone: targetZone, id: targetServer.id, volumes: original)
                undone.append(.string("volumes of \(targetServer.id) put back"))
                try await poller.waitForAttachments(of: targetServer.id, zone: targetZone, compute: compute, timeout: timeouts.volume)
                if ledger.targetPoweredOff { try await power(zone: targetZone, id: targetServer.id, action: "poweron") }
            } catch {
                cleanupLeftSomething = true
                detachWillSettle = false
                undone.append(.string("FAILED to put back the volumes of \(targetServer.id): \(error)"))
            }
        }
        for volume in ledger.volumes.reversed() {
            do {
                if volume.family == .sbs && detachWillSettle {
                    try await poller.waitForDetachment(of: volume.id, zone: zone, compute: compute, timeout: timeouts.volume)
                }
                try await compute.deleteVolume(volume.family, zone: zone, id: volume.id)
                undone.append(.string("volume \(volume.id)"))
            } catch where CloudFailure.isNotFound(error) {
            } catch {
                cleanupLeftSomething = true
                undone.append(.string("FAILED to delete volume \(volume.id): \(error)"))
            }
        }
        ledger.volumes = []
        return .array(undone)
    }

    /// Deletes staging objects, open uploads and imported snapshots.
    func cleanUp(success: Bool) async -> JSONValue {
        for task in imports.values where !success { task.cancel() }
        if config.keepStaging || (!success && config.keepOnFailure) {
            return ["kept": ["objects": .array(ledger.objects.map { .string($0) }),
                             "snapshots": .array(ledger.snapshots.map { .string($0.id) })]]
        }
        var snapshots: [JSONValue] = [], objects: [JSONValue] = [], problems: [JSONValue] = []
        if let zone {
            let compute = session.compute
            let job = ExportJob(compute: compute, store: store ?? session.objectStore(region: zone.region), zone: zone,
                                bucket: config.bucket, poller: poller, timeouts: timeouts, notifier: notifier)
            for snapshot in ledger.snapshots {
                do {
                    try await job.deleteSnapshot(snapshot.family, id: snapshot.id)
                    snapshots.append(.string(snapshot.id))
                } catch {
                    cleanupLeftSomething = true
                    problems.append(.string("snapshot \(snapshot.id): \(error)"))
                }
            }
        }
        ledger.snapshots = []
        if let store {
            for (key, uploadID) in ledger.openUploads {
                do { try await store.abortMultipartUpload(bucket: config.bucket, key: key, uploadID: uploadID) } catch {
                    cleanupLeftSomething = true
                }
            }
            ledger.openUploads = [:]
            for key in ledger.objects {
                do {
                    try await store.deleteObject(bucket: config.bucket, key: key)
                    objects.append(.string(key))
                } catch where CloudFailure.isNotFound(error) {
                } catch {
                    cleanupLeftSomething = true
                    problems.append(.string("object \(key): \(error)"))
                }
            }
            ledger.objects = []
        }
        var result: [(key: String, value: JSONValue)] = [("snapshots", .array(snapshots)), ("objects", .array(objects))]
        if !problems.isEmpty { result.append(("problems", .array(problems))) }
        return .object(result)
    }
}
