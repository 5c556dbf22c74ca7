import Foundation
import JSONRPC
import Logging
import PluginProtocol

/// The state of one restore session: open, files through `write`, close.
///
/// Files arrive one at a time. Description files (`instance.json`,
/// sidecars) are parsed and checked; each image is validated on its first
/// 64 KiB, streamed into a multipart upload, and its import starts as soon
/// as the upload completes, while the next file arrives. `close` waits for
/// the imports and assembles the instance (see RestoreRun+Assemble).
actor RestoreRun {
    let config: ConnectorConfig
    let session: any CloudSession
    let notifier: any Notifier
    let poller: Poller
    let timeouts: Timeouts
    let checkHeader: ImageHeaderCheck
    let runID = Naming.makeRunID()
    let logger = Logger(label: "restore")
    let started = ContinuousClock.now

    var target: (zone: Zone, server: CloudServer)?
    var manifest: InstanceManifest?
    var sidecars: [Int: VolumeSidecar] = [:]
    var zone: Zone?
    var project: String?
    var store: (any ObjectStore)?
    var blockDenied: PluginError?
    var seenPaths: Set<String> = []
    var current: IncomingFile?
    var staged: [Int: StagedImage] = [:]
    var imports: [Int: Task<CloudSnapshot, any Error>] = [:]
    var ledger = RestoreLedger()
    /// This run's lease, written when the restore starts creating things.
    var lease: RunLease?
    /// The reclaim of killed runs' leftovers, started with the lease; close waits for it.
    var reclaiming: Task<JSONValue, Never>?
    /// Cleanup or rollback failed to delete something (the lease is then left to go stale).
    var cleanupLeftSomething = false
    /// Failures that make the restore fail at close (bad image, bad manifest).
    var fatal: [String] = []
    var ignored: [String] = []
    var closed = false

    init(config: ConnectorConfig, session: any CloudSession, notifier: any Notifier, poller: Poller,
         timeouts: Timeouts, checkHeader: @escaping ImageHeaderCheck) {
        self.config = config
        self.session = session
        self.notifier = notifier
        self.poller = poller
        self.timeouts = timeouts
        self.checkHeader = checkHeader
    }

    // MARK: open / ping

    /// Checks the target and access; creates nothing.
    func open() async throws -> OpenResult {
        let compute = session.compute
        if let wanted = config.target {
            let found = try await InstanceResolver(compute: compute).resolve(wanted, zone: config.zone)
            target = found
            if config.restoreMode == .inPlace && found.server.isRunning && !config.force {
                throw PluginError(.state,
                                  "instance \(found.server.id) (\(found.server.name)) is \(found.server.state): an in-place restore refuses to touch a running instance",
                                  hint: "stop the instance first, or set force=true to let the restore power it off (its current volumes are detached and kept)",
                                  field: "force")
            }
            if let project = config.projectID, project != found.server.project {
                throw PluginError(.config, "instance \(found.server.id) belongs to project \(found.server.project), not \(project)",
                                  hint: "remove project_id or set it to \(found.server.project)", field: "project_id")
            }
        }
        zone = config.zone ?? target?.zone
        project = config.projectID ?? target?.server.project
        if let zone {
            _ = try await objectStore(for: zone)
            try await probeCompute(zone: zone)
        }
        logger.info("restore \(runID): mode \(config.restoreMode.rawValue)\(target.map { ", target \($0.server.id)" } ?? "")\(zone.map { ", zone \($0)" } ?? " (zone from instance.json)")")
        return OpenResult(origin: target?.server.id ?? "new-instance", type: "scaleway-instance", root: "/", flags: [])
    }

    func ping() async throws -> JSONValue {
        let result = try await open()
        return ["target": .string(result.origin), "zone": zone.map { .string($0.name) } ?? .null,
                "bucket": .string(config.bucket)]
    }

    /// The region's object store, checking the bucket the first time.
    func objectStore(for zone: Zone) async throws -> any ObjectStore {
        if let store { return store }
        let store = session.objectStore(region: zone.region)
        try await AccessCheck(compute: session.compute, store: store)
            .checkBucket(config.bucket, region: zone.region, prefix: config.prefix)
        self.store = store
        return store
    }

    private func probeCompute(zone: Zone) async throws {
        let compute = session.compute
        _ = try await CloudFailure.attempt("list Instance snapshots in \(zone)", permissionSet: PermissionSet.instances) {
            try await compute.listInstanceSnapshots(zone: zone, project: project)
        }
        do {
            _ = try await compute.listBlockSnapshots(zone: zone, project: project)
        } catch {
            // Only fatal if an SBS volume comes: remember and refuse it then.
            blockDenied = CloudFailure.map(error, action: "import SBS volumes in \(zone)", permissionSet: PermissionSet.block)
            logger.warning("\(blockDenied!.message)")
        }
    }

    // MARK: write

    func beginFile(path: String, info: FileInfo) throws {
        guard !closed else { throw PluginError(.state, "write of \(path) after close") }
        if let open = current {
            // The host does not finish a file whose chunk was refused: settle it here.
            guard let refusal = open.refusal else {
                throw PluginError(.state, "\(path) started while \(open.path) is not finished",
                                  hint: "the host must send one file at a time")
            }
            settleRefused(open, refusal)
        }
        let isDirectory = info.mode & FileInfo.Mode.directory != 0
        let kind = RestorePath.classify(path, isDirectory: isDirectory)
        var file = IncomingFile(path: path, kind: kind, declaredSize: info.size)
        let normalised = "/" + path.split(separator: "/").joined(separator: "/")
        if !seenPaths.insert(normalised).inserted {
            file.refusal = PluginError(.invalidInput, "\(path) was already received in this restore",
                                       hint: "each file of the backup may be restored once per session")
        }
        switch kind {
        case .unknown(let reason):
            file.refusal = file.refusal ?? PluginError(.invalidInput, "\(path) ignored: \(reason)")
        case .image(let index, let volumeID):
            if let other = staged[index], file.refusal == nil {
                file.refusal = PluginError(.invalidInput,
                                           "\(path) is a second image for volume index \(index) (already have \(other.path))")
            }
            if file.refusal == nil, let described = description(index: index, volumeID: volumeID, strict: true),
               case .failure(let error) = described {
                file.refusal = error
            }
        case .sidecar(let index, _):
            if sidecars[index] != nil, file.refusal == nil {
                file.refusal = PluginError(.invalidInput, "\(path) is a second description for volume index \(index)")
            }
        case .manifest:
            if manifest != nil, file.refusal == nil {
                file.refusal = PluginError(.invalidInput, "\(path) is a second instance.json")
            }
        case .directory:
            break
        }
        current = file
    }

    func writeChunk(path: String, offset: Int64, bytes: [UInt8]) async throws {
        guard var file = current, file.path == path else {
            throw PluginError(.state, "chunk for \(path), which is not the file being written")
        }
        if let refusal = file.refusal { throw refusal }
        guard offset == file.received else {
            throw refuse(&file, PluginError(.invalidInput, "\(path): chunk at offset \(offset), expected \(file.received)",
                                            hint: "chunks must arrive in order"))
        }
        file.received += Int64(bytes.count)
        switch file.kind {
        case .manifest, .sidecar:
            guard file.buffer.count + bytes.count <= ManifestCoding.maxSize else {
                throw refuse(&file, PluginError(.invalidInput, "\(path) is larger than \(ManifestCoding.maxSize) bytes: not a description file"))
            }
            file.buffer += bytes
            current = file
        case .image:
            if let stream = file.stream {
                current = file
                try await upload(path: path, to: stream) { try await stream.append(bytes) }
            } else {
                file.buffer += bytes
                current = file
                if file.buffer.count >= imageHeaderPrefixLength { try await startUpload() }
            }
        case .directory, .unknown:
            current = file
        }
    }

    /// Takes a chunk still in base64: an image's bytes, once its upload has
    /// started, are decoded straight into the part filling (see
    /// ``MultipartStream/append(_:)-(Base64Text)``); anything else is decoded first.
    ///
    /// - Throws: ``Base64Text/Invalid`` when the text is refused, having taken nothing.
    func writeChunk(path: String, offset: Int64, data: Base64Text) async throws {
        guard var file = current, file.path == path, file.refusal == nil, offset == file.received,
              case .image = file.kind, let stream = file.stream else {
            return try await writeChunk(path: path, offset: offset, bytes: data.decoded())
        }
        file.received += Int64(data.decodedCount)
        current = file
        do {
            try await upload(path: path, to: stream) { try await stream.append(data) }
        } catch let invalid as Base64Text.Invalid {
            current?.received -= Int64(data.decodedCount)
            throw invalid
        }
    }

    /// Runs one append to the image's upload; a failure aborts the upload
    /// and refuses the file (a refused base64 text is rethrown as is).
    private func upload(path: String, to stream: MultipartStream, _ append: () async throws -> Void) async throws {
        do { try await append() } catch let invalid as Base64Text.Invalid {
            throw invalid
        } catch {
            let mapped = CloudFailure.map(error, action: "upload \(path) to the staging bucket",
                                          permissionSet: PermissionSet.objectsWrite)
            await stream.abort()
            ledger.openUploads[stream.key] = nil
            current?.stream = nil
            current?.refusal = mapped
            throw mapped
        }
    }

    /// Records a refusal on the current file and returns it to throw.
    private func refuse(_ file: inout IncomingFile, _ error: PluginError) -> PluginError {
        file.refusal = error
        file.buffer = []
        current = file
        return error
    }

    /// Validates the gathered header bytes and opens the multipart upload.
    private func startUpload() async throws {
        guard var file = current, case .image(let index, let volumeID) = file.kind else { return }
        let facts: ImageHeaderFacts
        do {
            facts = try checkHeader(file.buffer, file.path)
        } catch {
            let reason = (error as? PluginError) ?? PluginError(.invalidInput, "\(file.path) is not a usable QCOW2 image: \(error)")
            throw refuse(&file, reason)
        }
        // The upload's stream follows the tables from the first byte (see MultipartStream.follow).
        let extentCheck = facts.extentCheck
        file.facts = facts
        file.facts?.extentCheck = nil
        do {
            let (zone, project) = try placement(for: file.path)
            let family = describe(index: index, volumeID: volumeID).family
            if family == .sbs, let denied = blockDenied { throw denied }
            let store = try await objectStore(for: zone)
            await startLease(zone: zone, project: project, store: store)
            let key = Naming.restoreStagingPrefix(prefix: config.prefix, runID: runID) + Naming.imageName(index: index, volumeID: volumeID)
            let uploadID = try await CloudFailure.attempt("start the upload of \(file.path) to bucket \(config.bucket)",
                                                          permissionSet: PermissionSet.objectsWrite) {
                try await store.createMultipartUpload(bucket: config.bucket, key: key, contentType: "application/x-qemu-disk")
            }
            ledger.openUploads[key] = uploadID
            let stream = MultipartStream(store: store, bucket: config.bucket, key: key, uploadID: uploadID,
                                         partSize: MultipartStream.partSize(forObjectSize: file.declaredSize))
            if let extentCheck { await stream.follow(extentCheck) }
            file.stream = stream
            let header = file.buffer
            file.buffer = []
            current = file
            notifier.progress(Progress(operation: "upload", path: file.path, done: 0, total: file.declaredSize >= 0 ? file.declaredSize : nil,
                                       unit: "bytes", message: "uploading \(file.path) to s3://\(config.bucket)/\(key)"))
            try await stream.append(header)
        } catch {
            let mapped = CloudFailure.map(error, action: "upload \(file.path)", permissionSet: PermissionSet.objectsWrite)
            if let stream = current?.stream {
                await stream.abort()
                ledger.openUploads[stream.key] = nil
            }
            var file = current ?? file
            file.stream = nil
            throw refuse(&file, mapped)
        }
    }

    func finishFile(path: String) async throws -> FileOutcome {
        guard var file = current, file.path == path else {
            throw PluginError(.state, "end of \(path), which is not the file being written")
        }
        defer { current = nil }
        if let refusal = file.refusal {
            switch file.kind {
            case .unknown: ignored.append(path)
            case .image, .manifest: recordFatal(path, refusal)
            default: break
            }
            return FileOutcome(path: path, error: refusal)
        }
        switch file.kind {
        case .directory:
            return FileOutcome(path: path)
        case .unknown:
            return FileOutcome(path: path, error: PluginError(.invalidInput, "\(path) ignored"))
        case .manifest:
            do {
                let manifest = try InstanceManifest.decode(file.buffer)
                try checkAgainstDescriptions(manifest)
                self.manifest = manifest
                zone = zone ?? Zone(manifest.server.zone)
                project = project ?? manifest.server.project
                if let zone { _ = try await objectStore(for: zone); if blockDenied == nil { try await probeComputeOnce(zone) } }
                notifier.progress(Progress(operation: "restore", path: path,
                                           message: "restoring \(manifest.server.name) (\(manifest.volumes.count) volume(s)) into \(zone?.name ?? "?")"))
                return FileOutcome(path: path, details: ["server": .string(manifest.server.name),
                                                         "volumes": .int(manifest.volumes.count)])
            } catch {
                let mapped = (error as? PluginError) ?? PluginError(.invalidInput, "\(path): \(error)")
                recordFatal(path, mapped)
                return FileOutcome(path: path, error: mapped)
            }
        case .sidecar(let index, let volumeID):
            do {
                let sidecar = try VolumeSidecar.decode(file.buffer, fileName: path)
                guard sidecar.volume.index == index, sidecar.volume.id.lowercased() == volumeID else {
                    throw PluginError(.invalidInput, "\(path) describes volume \(sidecar.volume.index)-\(sidecar.volume.id), not \(index)-\(volumeID)")
                }
                if let manifest, let entry = manifest.volumes.first(where: { $0.index == index }), entry.id != sidecar.volume.id {
                    throw PluginError(.invalidInput, "\(path) disagrees with instance.json on volume index \(index)")
                }
                sidecars[index] = sidecar
                zone = zone ?? Zone(sidecar.server.zone)
                project = project ?? sidecar.server.project
                return FileOutcome(path: path, details: ["volume": .string(sidecar.volume.id)])
            } catch {
                let mapped = (error as? PluginError) ?? PluginError(.invalidInput, "\(path): \(error)")
                return FileOutcome(path: path, error: mapped)
            }
        case .image(let index, let volumeID):
            do {
                if file.stream == nil {
                    // Shorter than the validation prefix: validate the whole file.
                    try await startUpload()
                    file = current!
                }
                if let refusal = file.refusal {
                    recordFatal(path, refusal)
                    return FileOutcome(path: path, error: refusal)
                }
                guard let stream = file.stream, let facts = file.facts else {
                    throw PluginError(.internal, "\(path): upload not started")
                }
                if file.declaredSize >= 0 && file.received != file.declaredSize {
                    throw PluginError(.invalidInput, "\(path) was cut short: received \(file.received) of \(file.declaredSize) bytes")
                }
                var followed = facts
                followed.extentCheck = await stream.extentCheck
                try followed.checkComplete(received: file.received, path: path)
                let parts = try await CloudFailure.attempt("upload \(path) to bucket \(config.bucket)",
                                                           permissionSet: PermissionSet.objectsWrite) {
                    try await stream.finish()
                }
                ledger.openUploads[stream.key] = nil
                ledger.objects.append(stream.key)
                staged[index] = StagedImage(index: index, volumeID: volumeID, path: path, key: stream.key,
                                            bytes: file.received, virtualSize: facts.virtualSize)
                notifier.progress(Progress(operation: "upload", path: path, done: file.received, total: file.received,
                                           unit: "bytes", message: "uploaded \(path) (\(file.received) bytes, \(parts) part(s))"))
                startImport(index: index)
                return FileOutcome(path: path, details: ["staging_key": .string(stream.key), "bytes": .int(file.received)])
            } catch {
                let mapped = CloudFailure.map(error, action: "upload \(path)", permissionSet: PermissionSet.objectsWrite)
                if let stream = current?.stream {
                    await stream.abort()
                    ledger.openUploads[stream.key] = nil
                }
                recordFatal(path, mapped)
                return FileOutcome(path: path, error: mapped)
            }
        }
    }

    /// Closes the books on a refused file the host will not finish.
    func settleRefused(_ file: IncomingFile, _ refusal: PluginError) {
        current = nil
        switch file.kind {
        case .unknown: ignored.append(file.path)
        case .image, .manifest: recordFatal(file.path, refusal)
        default: break
        }
    }

    /// Records a failure that makes the whole restore fail at close.
    func recordFatal(_ path: String, _ error: PluginError) {
        fatal.append(error.message.contains(path) ? error.message : "\(path): \(error.message)")
    }

    private var probed = false
    private func probeComputeOnce(_ zone: Zone) async throws {
        guard !probed else { return }
        probed = true
        try await probeCompute(zone: zone)
    }

    private func checkAgainstDescriptions(_ manifest: InstanceManifest) throws {
        for (index, sidecar) in sidecars {
            if let entry = manifest.volumes.first(where: { $0.index == index }), entry.id != sidecar.volume.id {
                throw PluginError(.invalidInput, "instance.json disagrees with the sidecar of volume index \(index)")
            }
        }
    }

    /// The zone and project a file restores into.
    func placement(for path: String) throws -> (Zone, String) {
        guard let zone else {
            throw PluginError(.config, "cannot tell which zone to restore \(path) into: no instance.json or sidecar came first and zone is not set",
                              hint: "set zone=<zone>, e.g. fr-par-1", field: "zone")
        }
        guard let project else {
            throw PluginError(.config, "cannot tell which project to restore \(path) into",
                              hint: "set project_id", field: "project_id")
        }
        return (zone, project)
    }

    /// The description of volume `index`: sidecar, then instance.json, then
    /// defaults (a lone image restores as an SBS volume).
    func describe(index: Int, volumeID: String) -> VolumeDescription {
        let record = sidecars[index]?.volume ?? manifest?.volumes.first(where: { $0.index == index && $0.id == volumeID })
        if let record {
            return VolumeDescription(family: record.family, name: record.name, tags: record.tags,
                                     perfIOPS: record.perfIOPS, size: record.size,
                                     source: sidecars[index] != nil ? "sidecar" : "instance.json")
        }
        return VolumeDescription(family: .sbs, name: "restored-\(index)-\(volumeID.prefix(8))", tags: [],
                                 perfIOPS: nil, size: nil, source: "defaults (no description)")
    }

    /// Checks an image against instance.json, when it lists that index.
    private func description(index: Int, volumeID: String, strict: Bool) -> Result<Void, PluginError>? {
        guard let manifest, let entry = manifest.volumes.first(where: { $0.index == index }) else { return nil }
        guard entry.id == volumeID else {
            return .failure(PluginError(.invalidInput, "volume index \(index) is \(entry.id) in instance.json, but the image is of \(volumeID)"))
        }
        return .success(())
    }

    // MARK: lease and reclaim

    /// Before the first thing this restore creates: take the run lease and
    /// reclaim, in the background, what killed runs left (never at open).
    func startLease(zone: Zone, project: String, store: any ObjectStore) async {
        guard lease == nil else { return }
        let lease = RunLease(store: store, bucket: config.bucket, prefix: config.prefix,
                             policy: LeasePolicy(staleAfter: config.reclaimAfter), runID: runID, kind: .restore,
                             serverID: target?.server.id, zone: zone, project: project)
        self.lease = lease
        await lease.acquire()
        guard !config.keepStaging else { return }
        var reclaimer = LeftoverReclaimer(compute: session.compute, store: store, zone: zone, bucket: config.bucket,
                                          prefix: config.prefix, serverID: nil, project: project, currentRunID: runID)
        reclaimer.policy = LeasePolicy(staleAfter: config.reclaimAfter)
        reclaimer.poller = poller
        reclaimer.notifier = notifier
        reclaiming = Task { await reclaimer.reclaim() }
    }

    // MARK: import

    /// Starts importing a staged image as a snapshot (Instance import for
    /// l_ssd, Block import for SBS).
    func startImport(index: Int) {
        guard imports[index] == nil, let image = staged[index], let zone, let project else { return }
        let desc = describe(index: index, volumeID: image.volumeID)
        let compute = session.compute
        let bucket = config.bucket
        let name = Naming.importName(runID: runID, index: index)
        let tags = Naming.snapshotTags(runID: runID, serverID: nil)
        let poller = self.poller, timeout = timeouts.importImage, notifier = self.notifier
        let permission = desc.family == .sbs ? PermissionSet.block : PermissionSet.instances
        notifier.progress(Progress(operation: "import", path: image.path,
                                   message: "importing \(image.path) as an \(desc.family == .sbs ? "SBS" : "l_ssd") snapshot"))
        imports[index] = Task {
            let snapshot = try await CloudFailure.attempt("import \(image.path) as a snapshot", permissionSet: permission) {
                switch desc.family {
                case .lSSD:
                    try await compute.importInstanceSnapshot(zone: zone, name: name, project: project, bucket: bucket, key: image.key, tags: tags)
                case .sbs:
                    try await compute.importBlockSnapshot(zone: zone, name: name, project: project, bucket: bucket, key: image.key, tags: tags)
                }
            }
            self.recordSnapshot(family: desc.family, id: snapshot.id)
            let ready = try await poller.wait(timeout: timeout, describe: "the import of \(image.path)") {
                try await CloudFailure.attempt("read snapshot \(snapshot.id)", permissionSet: permission) {
                    switch desc.family {
                    case .lSSD: try await compute.getInstanceSnapshot(zone: zone, id: snapshot.id)
                    case .sbs: try await compute.getBlockSnapshot(zone: zone, id: snapshot.id)
                    }
                }
            } until: { (s: CloudSnapshot) -> CloudSnapshot? in
                if s.isFailed {
                    throw PluginError(.invalidInput, "Scaleway could not import \(image.path): snapshot \(s.id) is \(s.status)",
                                      hint: "check the image with `qemu-img check`", cause: s.errorDetails)
                }
                return s.isAvailable ? s : nil
            }
            notifier.progress(Progress(operation: "import", path: image.path, message: "imported \(image.path) as snapshot \(ready.id)"))
            return ready
        }
    }

    func recordSnapshot(family: VolumeFamily, id: String) {
        ledger.snapshots.append((family, id))
    }
}
